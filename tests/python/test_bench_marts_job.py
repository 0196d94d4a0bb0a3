"""The hand-written PySpark marts job (spark_analytics.bench.marts_job) against `dbt build`.

One isolated project, one dbt invocation (seed + the models of the marts path), then the job on
the same files: each of its seven tables must equal dbt's, schema included. Besides the
generated data (ROWS, SEED, BAD_ROWS injected transaction defects) a few hand-written lines
exercise the rules the generator does not reach: customer and merchant rejections (malformed,
missing and duplicate ids), padded and mixed-case text, the segment boundaries, the reasons'
order and which copy of a duplicated transaction is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.bench.marts_job import run_job
from spark_analytics.bench.path import DBT_SELECTION
from spark_analytics.contracts import rejection_reasons
from tests.python.dbt_project import MARTS, QUARANTINE, ROWS, SEED, DbtProject

# A build of its own (bad rows + edge-case files): --runslow. In CI the `make bench` smoke run
# (test_bench.py) checks the job against dbt and DuckDB on every table.
pytestmark = pytest.mark.slow

BAD_ROWS = 70
SELECTION = DBT_SELECTION
TABLES = (
    (MARTS, "fct_purchases"),
    (MARTS, "rpt_sales_by_segment"),
    (MARTS, "dim_customers"),
    (MARTS, "dim_merchants"),
    (QUARANTINE, "quarantine_transactions"),
    (QUARANTINE, "quarantine_customers"),
    (QUARANTINE, "quarantine_merchants"),
)

EDGE_TRANSACTIONS = """\
transaction_id,customer_id,merchant_id,purchase_amount,event_time
,c0000001,m00001,10.00,2026-02-01 10:00:00
tedge01,  ,m00001,10.00,2026-02-01 10:00:00
tedge02,c0000001,,10.00,2026-02-01 10:00:00
tedge03,c0000001,m00001,  ,2026-02-01 10:00:00
 tedge04 , c0000001 , m00001 , 1000.00 , 2026-02-01 10:00:00
tedge05,c0000001,m00001,1000.01,2026-02-01 10:00:00
tedge06,c0000001,m00001,500.00,2026-02-01 10:00:00
tedge07,c0000002,m00002,30.00,2026-03-03 10:00:00
tedge07,c0000002,m00002,10.00,2026-03-01 10:00:00
tedge07,c0000002,m99999,5.00,2026-01-01 10:00:00
tedge08,cedge-dup,m00001,10.00,2026-02-01 10:00:00
tedge09,c0000003,medge-dup,10.00,2026-02-01 10:00:00
tedge10,cedge-unknown,medge-unknown,10.00,2026-02-01 10:00:00
tedge11,cedge01,medge01,-0.00,2026-04-01T10:00:00
tedge12,cedge01,medge02,-0.01,2026-04-01 10:00:00
"""
CUSTOMER_FIELDS = ("customer_id", "customer_name", "email", "country", "signup_date")
EDGE_CUSTOMERS = [
    ("cedge-dup", "Dup One", "a@x.org", "de", "2025-01-01"),
    ("cedge-dup", "Dup Two", "b@x.org", "de", "2025-01-02"),
    ("   ", "No Id", "n@x.org", "US", "2025-01-01"),
    (" cedge01 ", "  Ann Lee ", " ANN@Example.COM ", " fr ", "not a date"),
    ("cedge02", "No Purchases", "np@x.org", "US", " 2025-06-30 "),
]
EDGE_MERCHANTS = {
    "merchant_id": ["medge-dup", "medge-dup", None, "", " medge01 ", "medge02"],
    "merchant_name": ["Dup A", "Dup B", "No Id", "Empty Id", " Padded  Name ", "Unknown Cat"],
    "category_code": ["REST", "REST", "REST", "FUEL", " rest ", "ZZZZ"],
    "country": ["US", "US", "US", "US", " gb ", "CA"],
}


def add_edge_cases(generated: Path) -> None:
    """Extra files next to the generated ones (each source reads its whole directory)."""
    (generated / "transactions" / "csv" / "part-edge.csv").write_text(EDGE_TRANSACTIONS)
    lines = [json.dumps(dict(zip(CUSTOMER_FIELDS, row, strict=True))) for row in EDGE_CUSTOMERS]
    (generated / "customers" / "edge.jsonl").write_text("\n".join([*lines, "not json at all", ""]))
    merchants = pa.table(
        {name: pa.array(values, pa.string()) for name, values in EDGE_MERCHANTS.items()}
    )
    pq.write_table(merchants, generated / "merchants" / "edge.parquet")


@pytest.fixture(scope="module")
def dbt_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("bench_marts_job"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED), "--bad-rows", str(BAD_ROWS))
    add_edge_cases(project.generated_dir)
    # One invocation: the seed and the models of the marts path (no data tests, no ML).
    project.dbt(
        "build",
        "--resource-type",
        "seed",
        "--resource-type",
        "model",
        "-s",
        *SELECTION,
        "--exclude",
        "path:models/ml",
    )
    return project


@pytest.fixture(scope="module")
def job_out(
    spark: SparkSession, dbt_project: DbtProject, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("marts_job_out")
    run_job(spark, dbt_project.generated_dir, out)
    return out


@pytest.mark.parametrize(("schema", "table"), TABLES, ids=[table for _, table in TABLES])
def test_table_equals_dbt(
    spark: SparkSession, dbt_project: DbtProject, job_out: Path, schema: str, table: str
):
    expected = dbt_project.read_table(spark, schema, table)
    actual = spark.read.parquet(str(job_out / table))
    assert actual.schema == expected.schema
    assert actual.count() > 0
    assertDataFrameEqual(actual, expected, checkRowOrder=False)


def test_edge_cases_reached_every_rule(spark: SparkSession, job_out: Path):
    """The comparison is not vacuous: every reason the files can produce was produced, and the
    segment boundaries and the kept copy of a duplicated id are the documented ones."""

    def reasons(table: str) -> set[str]:
        rows = spark.read.parquet(str(job_out / table)).select("rejection_reason").distinct()
        return {row.rejection_reason for row in rows.collect()}

    assert reasons("quarantine_transactions") == set(rejection_reasons("transactions"))
    assert reasons("quarantine_customers") == set(rejection_reasons("customers"))
    # A Parquet file has no malformed lines.
    assert reasons("quarantine_merchants") == set(rejection_reasons("merchants")) - {
        "malformed_row"
    }
    kept = (
        spark.read.parquet(str(job_out / "fct_purchases"))
        .where(F.col("transaction_id").startswith("tedge"))
        .select("transaction_id", "purchase_amount", "purchase_segment")
    )
    segments = {
        row.transaction_id: (str(row.purchase_amount), row.purchase_segment)
        for row in kept.collect()
    }
    assert segments["tedge04"] == ("1000.00", "Medium Value")
    assert segments["tedge05"] == ("1000.01", "High Value")
    assert segments["tedge06"] == ("500.00", "Low Value")
    assert segments["tedge07"] == ("10.00", "Low Value")
