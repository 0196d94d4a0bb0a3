"""Checks that the benchmark's arms wrote the same tables, so a faster wrong answer cannot win.

Every arm leaves Parquet files per table (dbt: the current version directory in the warehouse;
the PySpark job and DuckDB: their output folders). DuckDB reads them all and compares, per
table: the column names; the row count; and the rows. Tables with a key are joined on it and
compared column by column (numbers within a relative 1e-9, since DuckDB averages in double
where Spark averages decimals); tables without one (the quarantine) are compared as multisets
of their rows rendered as text.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from spark_analytics.bench.path import OUTPUT_KEYS

NUMERIC = (
    "DECIMAL",
    "DOUBLE",
    "FLOAT",
    "REAL",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "SMALLINT",
    "TINYINT",
)


def _relation(path: Path) -> str:
    pattern = path / "**" / "*.parquet" if path.is_dir() else path
    return f"read_parquet('{pattern}', hive_partitioning = true)"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"describe select * from {relation}").fetchall()
    return {name.lower(): str(kind).upper() for name, kind, *_ in rows}


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _as_text(expression: str, kind: str) -> str:
    """A value as comparable text (timestamps as epoch microseconds: time zones aside)."""
    if kind.startswith("TIMESTAMP"):
        return f"cast(epoch_us({expression}) as varchar)"
    if kind.startswith(NUMERIC):
        return f"cast(cast({expression} as double) as varchar)"
    return f"cast({expression} as varchar)"


def compare_table(reference: Path, other: Path, table: str) -> list[str]:
    """Differences between two arms' copies of ``table`` (empty when they agree)."""
    con = duckdb.connect()
    left, right = _relation(reference), _relation(other)
    left_cols, right_cols = _columns(con, left), _columns(con, right)
    if sorted(left_cols) != sorted(right_cols):
        return [f"{table}: columns differ: {sorted(left_cols)} vs {sorted(right_cols)}"]
    counts = [con.execute(f"select count(*) from {rel}").fetchone()[0] for rel in (left, right)]
    if counts[0] != counts[1]:
        return [f"{table}: {counts[0]} rows vs {counts[1]}"]
    keys = list(OUTPUT_KEYS.get(table, ()))
    if not keys:
        rendered = ", ".join(
            f"{_as_text(_quoted(c), k)} as {_quoted(c)}" for c, k in left_cols.items()
        )
        missing = con.execute(
            f"select count(*) from (select {rendered} from {left} "
            f"except all select {rendered} from {right})"
        ).fetchone()[0]
        return [f"{table}: {missing} rows differ"] if missing else []
    join = " and ".join(f'l."{k}" = r."{k}"' for k in keys)
    unmatched = con.execute(
        f"select count(*) from {left} l full outer join {right} r on {join} "
        f'where l."{keys[0]}" is null or r."{keys[0]}" is null'
    ).fetchone()[0]
    if unmatched:
        return [f"{table}: {unmatched} keys in only one of the two"]
    problems = []
    for column, kind in left_cols.items():
        if column in keys:
            continue
        if kind.startswith(NUMERIC):
            differs = (
                f'abs(cast(l."{column}" as double) - cast(r."{column}" as double)) > '
                f'1e-9 * greatest(1, abs(cast(l."{column}" as double))) '
                f'or (l."{column}" is null) <> (r."{column}" is null)'
            )
        else:
            differs = (
                f"{_as_text(f'l.{_quoted(column)}', kind)} "
                f"is distinct from {_as_text(f'r.{_quoted(column)}', kind)}"
            )
        bad = con.execute(
            f"select count(*) from {left} l full outer join {right} r on {join} where {differs}"
        ).fetchone()[0]
        if bad:
            problems.append(f"{table}.{column}: {bad} rows differ")
    return problems


def compare_arms(outputs: dict[str, dict[str, Path]]) -> list[str]:
    """Compares every arm with the first one, table by table; returns the differences."""
    (reference_arm, reference), *others = outputs.items()
    problems = []
    for arm, tables in others:
        for table in OUTPUT_KEYS:
            found = [tables.get(table), reference.get(table)]
            if any(path is None or not path.exists() for path in found):
                problems.append(f"{table}: missing in {arm if found[0] is None else reference_arm}")
                continue
            problems += [
                f"{arm} vs {reference_arm}: {p}" for p in compare_table(found[1], found[0], table)
            ]
    return problems
