"""The DuckDB reference of the marts path (spark_analytics.bench.duckdb_marts) against dbt on Spark.

The session's shared dbt build (``clean_project``: clean generated data, no bad rows), then
``run_marts`` over the same files with the SQL from that build's manifest. Every output table
must equal dbt's: the same columns and types, and the same rows. The comparison runs in DuckDB:
both sides are read from Parquet, rows compared as multisets (EXCEPT ALL both ways). There are no
floating-point columns in these tables, so every value, decimals included, is compared exactly.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from spark_analytics.bench.duckdb_marts import OUTPUT_TABLES, PATH_MODELS, run_marts
from tests.python.dbt_project import BUILD_MANIFEST, MARTS, QUARANTINE, DbtProject

SCHEMAS = {
    table: QUARANTINE if table.startswith("quarantine_") else MARTS for table in OUTPUT_TABLES
}


@pytest.fixture(scope="module")
def dbt_path(clean_project: DbtProject) -> DbtProject:
    """The session's shared build (tests/python/conftest.py): clean data, every model compiled."""
    return clean_project


@pytest.fixture(scope="module")
def duckdb_run(dbt_path: DbtProject, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("duckdb_marts")
    manifest = dbt_path.workdir / BUILD_MANIFEST
    seconds = run_marts(manifest, dbt_path.generated_dir, out, threads=2)
    return out, seconds


def dbt_table_sql(directory: Path) -> str:
    """dbt's Parquet files as a DuckDB query. Partition directories (``purchase_month=...``)
    are Spark string columns. Spark writes timestamps as INT96, which DuckDB reads as naive UTC;
    Spark's TIMESTAMP is an instant, TIMESTAMPTZ in DuckDB (the session is in UTC)."""
    partitions = sorted(
        {path.name.split("=")[0] for path in directory.glob("*=*") if path.is_dir()}
    )
    hive = ", hive_types = {" + ", ".join(f"'{name}': 'VARCHAR'" for name in partitions) + "}"
    files = f"read_parquet('{directory}/**/*.parquet', hive_partitioning = {bool(partitions)}"
    files += (hive if partitions else "") + ")"
    columns = duckdb.connect().execute(f"describe select * from {files}").fetchall()
    selected = ", ".join(
        f'cast("{name}" as timestamptz) as "{name}"' if kind == "TIMESTAMP" else f'"{name}"'
        for name, kind, *_ in columns
    )
    return f"select {selected} from {files}"


def test_run_marts_times_every_model(duckdb_run: tuple[Path, dict]) -> None:
    out, seconds = duckdb_run
    assert set(PATH_MODELS) <= set(seconds)
    assert all(took >= 0 for took in seconds.values())
    assert sorted(path.name for path in out.glob("*.parquet")) == sorted(
        f"{table}.parquet" for table in OUTPUT_TABLES
    )


@pytest.mark.parametrize("table", OUTPUT_TABLES)
def test_table_equals_dbt(dbt_path: DbtProject, duckdb_run: tuple[Path, dict], table: str) -> None:
    out, _ = duckdb_run
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"create view dbt as {dbt_table_sql(dbt_path.table_path(SCHEMAS[table], table))}")
    con.execute(f"create view ours as select * from read_parquet('{out / f'{table}.parquet'}')")

    assert con.execute("describe ours").fetchall() == con.execute("describe dbt").fetchall()
    count = con.execute("select count(*) from dbt").fetchone()[0]
    assert con.execute("select count(*) from ours").fetchone()[0] == count
    # Clean data: every mart has rows, every quarantine is empty.
    assert (count == 0) == table.startswith("quarantine_")
    for left, right in (("ours", "dbt"), ("dbt", "ours")):
        extra = con.execute(f"select * from {left} except all select * from {right}").fetchall()
        assert extra == [], f"{table}: rows in {left} and not in {right}: {extra[:5]}"
