"""Single-node reference of the marts path: the SQL dbt runs on Spark, run on DuckDB.

    python -m spark_analytics.bench.duckdb_marts --manifest target/manifest.json \\
        --data data/generated --out /tmp/duckdb_marts [--threads N]

This module owns the DuckDB side of the benchmark and nothing else: it does not write SQL. It
takes each model's compiled SQL from dbt's ``manifest.json`` (after ``dbt compile``, ``run`` or
``build``), transpiles it with sqlglot (Spark -> DuckDB), applies the named rewrites below for Spark
semantics sqlglot does not carry over, and builds the models in dependency order (staging as
views, the rest as tables, the seed loaded from its CSV). The sources are views over the
generator's files with every declared column as VARCHAR plus a null ``_corrupt_record``, as
``macros/register_external_sources.sql`` registers them in Spark. The marts and quarantine
tables are written to ``OUT/<table>.parquet``.

Spark semantics and how they are kept (sqlglot already handles null ordering, ``date_format``
and the TIMESTAMP type, which it maps to TIMESTAMPTZ; the session runs in UTC like Spark's):

* ``drop_spark_hints``: ``/*+ broadcast(...), repartition(...) */`` are Spark physical-plan
  directives without a DuckDB equivalent; dropped (sqlglot would warn and drop them).
* ``spark_ansi_cast``: Spark 4 runs with ANSI mode on, where ``cast`` fails on bad input;
  sqlglot assumes legacy Spark (null on failure) and emits TRY_CAST. Kept a strict CAST.
* ``spark_string_try_cast``: Spark and DuckDB parse text differently. Null, as in Spark, for
  what only DuckDB reads (``1_000`` as a number; ``infinity`` or hour 24 as a date/time); and
  what only Spark reads is given to DuckDB in its spelling (``2026`` and ``2026-1`` as the
  first day, ``+2026-01-01``, ``now``/``today``/``yesterday``/``tomorrow``).
* ``spark_decimal_sum``: Spark sums decimal(p, s) into decimal(p + 10, s) and integers into
  bigint; DuckDB into DECIMAL(38, s) and HUGEINT. Cast to Spark's type.
* ``spark_decimal_avg``: Spark averages decimal(p, s) exactly into decimal(p + 4, s + 4) (sum /
  count rounded half-up to the division's scale, then to the result's); DuckDB returns a DOUBLE.
  Computed in integer arithmetic with Spark's two roundings.
* ``spark_datediff_int``: Spark's ``datediff`` is an INT; DuckDB's DATE_DIFF a BIGINT.

The argument types the aggregate rewrites need are asked from DuckDB itself (DESCRIBE of a
probe query over the already built upstream relations).
"""

from __future__ import annotations

import argparse
import json
import time
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from spark_analytics.bench.path import OUTPUT_TABLES

PATH_MODELS = (
    "stg_raw__transactions",
    "stg_raw__customers",
    "stg_raw__merchants",
    "int_customers_accepted",
    "int_merchants_accepted",
    "int_transactions_validated",
    "int_purchases_segmented",
    "quarantine_transactions",
    "quarantine_customers",
    "quarantine_merchants",
    "fct_purchases",
    "rpt_sales_by_segment",
    "dim_customers",
    "dim_merchants",
)
PATH_SEEDS = ("merchant_categories",)
# The generator's layout under --data: source name -> (files, DuckDB reader and its options).
# Spark's CSV reader escapes with a backslash by default, DuckDB's with the quote.
SOURCE_FILES = {
    "transactions": ("transactions/csv/*.csv", "read_csv", "header = true, escape = '\\'"),
    "customers": ("customers/*.json*", "read_json", "format = 'newline_delimited'"),
    "merchants": ("merchants/*.parquet", "read_parquet", ""),
}
# Spark's largest decimal precision, and the least scale its division keeps (DecimalPrecision).
MAX_PRECISION = 38
MIN_ADJUSTED_SCALE = 6
TEMPORAL = (
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPLTZ,
)

MACROS = (
    # Integer division rounded half-up (away from zero), as java.math.RoundingMode.HALF_UP.
    "create macro spark_div_half_up(a, b) as sign(a) * ((abs(a) * 2 + b) // (2 * b))",
    # Date/time text DuckDB parses but Spark does not: infinities; hour 24 in a timestamp.
    "create macro spark_rejects_datetime(t, is_timestamp) as t ilike '%inf%' "
    "or (is_timestamp and (t like '% 24:%' or t like '%T24:%'))",
    # Spark's spellings DuckDB lacks, in DuckDB's: the relative special values, a bare year
    # or year-month (the first day), a leading + on the year. Only read when DuckDB's cast failed.
    "create macro spark_datetime_text(t) as case lower(trim(t)) "
    "when 'now' then cast(current_timestamp as varchar) "
    "when 'today' then cast(current_date as varchar) "
    "when 'yesterday' then cast(current_date - 1 as varchar) "
    "when 'tomorrow' then cast(current_date + 1 as varchar) "
    "else regexp_replace(regexp_replace(regexp_replace(t, '^(\\s*)\\+', '\\1'), "
    "'^\\s*([0-9]{4})\\s*$', '\\1-01'), '^\\s*([0-9]{4}-[0-9]{1,2})\\s*$', '\\1-01') end",
)


def load_manifest(manifest_path: Path) -> dict:
    return json.loads(Path(manifest_path).read_text())


def path_nodes(manifest: dict) -> dict[str, dict]:
    """The path's model and seed nodes by unique id; a model without compiled SQL is an error."""
    wanted = {("model", name) for name in PATH_MODELS} | {("seed", name) for name in PATH_SEEDS}
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if (node["resource_type"], node["name"]) in wanted
        # a versioned model (dim_merchants): its latest version, the one the path builds
        and node.get("version") == node.get("latest_version")
    }
    found = {(node["resource_type"], node["name"]) for node in nodes.values()}
    if missing := sorted(name for _, name in wanted - found):
        raise SystemExit(f"manifest has no node for {', '.join(missing)}")
    for node in nodes.values():
        if node["resource_type"] == "model" and not node.get("compiled_code"):
            raise SystemExit(f"{node['unique_id']} has no compiled_code: run `dbt compile` first")
    return nodes


def dependency_order(nodes: dict[str, dict]) -> list[dict]:
    """Seeds and models, each after the path nodes it depends on."""
    graph = {
        uid: [parent for parent in node.get("depends_on", {}).get("nodes", []) if parent in nodes]
        for uid, node in nodes.items()
    }
    return [nodes[uid] for uid in TopologicalSorter(graph).static_order()]


def relation(node: dict) -> str:
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def connect(threads: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")  # profiles.yml: spark.sql.session.timeZone = UTC
    if threads:
        con.execute(f"set threads = {int(threads)}")
    for macro in MACROS:
        con.execute(macro)
    return con


def create_sources(con: duckdb.DuckDBPyConnection, manifest: dict, data_dir: Path) -> None:
    """Views over the files: declared columns as VARCHAR plus a null ``_corrupt_record``."""
    for source in manifest["sources"].values():
        if source["name"] not in SOURCE_FILES or source["source_name"] != "raw":
            continue
        pattern, reader, options = SOURCE_FILES[source["name"]]
        columns = list(source["columns"])
        files = str(Path(data_dir) / pattern).replace("'", "''")
        if reader == "read_parquet":
            read = f"read_parquet('{files}')"
        else:  # CSV and JSON: the declared columns in order (Spark applies them by position)
            declared = ", ".join(f"'{name}': 'VARCHAR'" for name in columns)
            read = f"{reader}('{files}', columns = {{{declared}}}, {options})"
        selected = ", ".join(f'cast("{name}" as varchar) as "{name}"' for name in columns)
        con.execute(f"create schema if not exists {source['schema']}")
        con.execute(
            f"create view {source['schema']}.{source['identifier']} as select {selected}, "
            f"cast(null as varchar) as _corrupt_record from {read}"
        )


def load_seed(con: duckdb.DuckDBPyConnection, node: dict) -> None:
    """The seed's CSV with its configured column types (the others as DuckDB infers them)."""
    csv = str(Path(node["root_path"]) / node["original_file_path"]).replace("'", "''")
    types = {
        name: exp.DataType.build(spark_type, dialect="spark").sql("duckdb")
        for name, spark_type in (node["config"].get("column_types") or {}).items()
    }
    declared = ", ".join(f"'{name}': '{duck_type}'" for name, duck_type in types.items())
    con.execute(
        f"create table {relation(node)} as select * from read_csv('{csv}', header = true"
        + (f", types = {{{declared}}})" if declared else ")")
    )


# --- rewrites: Spark semantics sqlglot does not carry over (see the module docstring) --------


def drop_spark_hints(tree: exp.Expression) -> None:
    for hint in list(tree.find_all(exp.Hint)):
        hint.pop()


def spark_ansi_cast(tree: exp.Expression) -> None:
    for cast in list(tree.find_all(exp.TryCast)):
        if not cast.args.get("safe"):  # Spark's plain `cast` (try_cast has safe=True)
            cast.replace(exp.Cast(this=cast.this, to=cast.args["to"]))


def spark_string_try_cast(tree: exp.Expression) -> None:
    for cast in list(tree.find_all(exp.TryCast)):
        text = f"cast({cast.this.sql('duckdb')} as varchar)"
        to = cast.to.sql("duckdb")
        if cast.to.is_type(*TEMPORAL):
            is_timestamp = "false" if cast.to.is_type(exp.DataType.Type.DATE) else "true"
            spark = (
                f"case when not spark_rejects_datetime({text}, {is_timestamp}) then coalesce("
                f"try_cast({text} as {to}), try_cast(spark_datetime_text({text}) as {to})) end"
            )
        elif cast.to.is_type(exp.DataType.Type.DECIMAL):
            # java.math.BigDecimal, which Spark parses with, has no digit separators.
            spark = f"case when not contains({text}, '_') then try_cast({text} as {to}) end"
        else:
            continue
        cast.replace(sqlglot.parse_one(spark, read="duckdb"))


def spark_datediff_int(tree: exp.Expression) -> None:
    for diff in list(tree.find_all(exp.DateDiff)):
        diff.replace(exp.cast(diff.copy(), exp.DataType.build("INT")))


def spark_decimal_sum(con: duckdb.DuckDBPyConnection, tree: exp.Expression, agg: exp.Sum) -> None:
    arg_type = exp.DataType.build(argument_type(con, tree, agg), dialect="duckdb")
    if arg_type.is_type(exp.DataType.Type.DECIMAL):
        precision, scale = decimal_params(arg_type)
        spark_type = f"DECIMAL({min(MAX_PRECISION, precision + 10)}, {scale})"
    elif arg_type.is_type(*exp.DataType.INTEGER_TYPES):
        spark_type = "BIGINT"
    else:
        return
    agg.replace(exp.cast(agg.copy(), exp.DataType.build(spark_type, dialect="duckdb")))


def spark_decimal_avg(con: duckdb.DuckDBPyConnection, tree: exp.Expression, agg: exp.Avg) -> None:
    arg_type = exp.DataType.build(argument_type(con, tree, agg), dialect="duckdb")
    if not arg_type.is_type(exp.DataType.Type.DECIMAL):
        return  # Spark and DuckDB both average other numbers as DOUBLE
    precision, scale = decimal_params(arg_type)
    div_scale = avg_division_scale(precision, scale)
    result_precision, result_scale = (min(MAX_PRECISION, precision + 4), scale + 4)
    arg = agg.this.sql("duckdb")
    unscaled = f"cast(sum({arg}) * {10**scale} as hugeint)"
    count = f"nullif(count({arg}), 0)"
    if div_scale >= scale:
        quotient = f"spark_div_half_up({unscaled} * {10 ** (div_scale - scale)}, {count})"
    else:
        quotient = f"spark_div_half_up({unscaled}, {count} * {10 ** (scale - div_scale)})"
    if div_scale > result_scale:
        quotient = f"spark_div_half_up({quotient}, {10 ** (div_scale - result_scale)})"
    else:
        quotient = f"{quotient} * {10 ** (result_scale - div_scale)}"
    unit = f"0.{'0' * (result_scale - 1)}1" if result_scale else "1"
    exact = (
        f"cast(cast({quotient} as decimal(38, 0)) * {unit} "
        f"as decimal({result_precision}, {result_scale}))"
    )
    agg.replace(sqlglot.parse_one(exact, read="duckdb"))


def avg_division_scale(precision: int, scale: int) -> int:
    """Scale of Spark's ``sum / cast(count as decimal(20, 0))`` in avg (DecimalPrecision)."""
    sum_precision = min(MAX_PRECISION, precision + 10)
    div_scale = max(MIN_ADJUSTED_SCALE, scale + 20 + 1)
    div_precision = sum_precision - scale + div_scale
    if div_precision <= MAX_PRECISION:
        return div_scale
    integer_digits = div_precision - div_scale
    return max(MAX_PRECISION - integer_digits, min(div_scale, MIN_ADJUSTED_SCALE))


def decimal_params(data_type: exp.DataType) -> tuple[int, int]:
    precision, scale = (int(param.name) for param in data_type.expressions)
    return precision, scale


def argument_type(con: duckdb.DuckDBPyConnection, tree: exp.Expression, agg: exp.Func) -> str:
    """DuckDB's type of an aggregate's argument, from DESCRIBE of a probe of its SELECT."""
    probe = agg.parent_select.copy()
    probe.set("expressions", [exp.AnyValue(this=agg.this.copy()).as_("probe")])
    for clause in ("order", "sort", "limit", "offset", "distinct", "qualify", "having"):
        probe.set(clause, None)
    if probe.args.get("with_") is None and tree.args.get("with_") is not None:
        probe.set("with_", tree.args["with_"].copy())
    return con.execute(f"describe {probe.sql('duckdb')}").fetchall()[0][1]


def to_duckdb(con: duckdb.DuckDBPyConnection, spark_sql: str) -> str:
    """Spark SQL as DuckDB SQL with the rewrites applied (aggregates: upstream CTEs first)."""
    tree = sqlglot.parse_one(spark_sql, read="spark")
    drop_spark_hints(tree)
    spark_ansi_cast(tree)
    spark_string_try_cast(tree)
    spark_datediff_int(tree)
    with_clause = tree.args.get("with_")
    ctes = list(with_clause.expressions) if with_clause else []
    for cte in [*ctes, None]:  # None: the final SELECT, outside every CTE
        aggregates = [
            agg
            for agg in (cte or tree).find_all(exp.Sum, exp.Avg)
            if agg.find_ancestor(exp.CTE) is cte
        ]
        for agg in aggregates:
            (spark_decimal_avg if isinstance(agg, exp.Avg) else spark_decimal_sum)(con, tree, agg)
    return tree.sql(dialect="duckdb")


def build(con: duckdb.DuckDBPyConnection, node: dict) -> None:
    con.execute(f"create schema if not exists {node['schema']}")
    if node["resource_type"] == "seed":
        load_seed(con, node)
        return
    kind = "view" if node["config"]["materialized"] == "view" else "table"
    con.execute(f"create {kind} {relation(node)} as {to_duckdb(con, node['compiled_code'])}")


def export(con: duckdb.DuckDBPyConnection, node: dict, out_dir: Path) -> None:
    target = str(Path(out_dir) / f"{node['name']}.parquet").replace("'", "''")
    con.execute(f"copy (select * from {relation(node)}) to '{target}' (format parquet)")


def run_marts(
    manifest_path: Path, data_dir: Path, out_dir: Path, threads: int | None = None
) -> dict[str, float]:
    """Builds the path on DuckDB and writes the output tables; seconds per model (and seed),
    a model's including the write of its Parquet file when it is an output table."""
    manifest = load_manifest(manifest_path)
    nodes = path_nodes(manifest)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    con = connect(threads)
    try:
        create_sources(con, manifest, Path(data_dir))
        seconds: dict[str, float] = {}
        for node in dependency_order(nodes):
            started = time.perf_counter()
            build(con, node)
            if node["name"] in OUTPUT_TABLES:
                export(con, node, Path(out_dir))
            seconds[node["name"]] = time.perf_counter() - started
        return seconds
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True, help="dbt's target/manifest.json")
    parser.add_argument("--data", type=Path, required=True, help="the generator's output dir")
    parser.add_argument("--out", type=Path, required=True, help="directory for <table>.parquet")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default all)")
    args = parser.parse_args(argv)
    seconds = run_marts(args.manifest, args.data, args.out, args.threads)
    for name, took in seconds.items():
        print(f"{name:<30} {took:8.3f} s")
    print(f"{'total':<30} {sum(seconds.values()):8.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
