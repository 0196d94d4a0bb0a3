"""The data tests' Spark cost without dbt: their compiled queries, cold, warm, and under variants.

Runs every data test that dbt compiled into ``--target-path`` (``compiled/.../*.yml/*.sql``),
wrapped as dbt's test materialization wraps it, one after another in one local session on
SPARK_STATE_DIR's tables: first in the fresh JVM (what ``dbt test`` pays), then again (JIT and
generated code warm). Comparing the cold pass with dbt's summed test time shows what dbt adds;
cold against warm shows what the JVM's first sight of each query costs.

Variants, side by side in the same warm session, alternating round by round (median quoted):
``--arm 'NAME:KEY=VALUE,...'`` runs the queries with those session settings; ``--version-tables``
runs them on the version tables that the published views point at (what a reader pays for the
view a build publishes through, docs/reliability.md).

    SPARK_STATE_DIR=bench/1000000/spark python -m spark_analytics.bench.test_queries \\
        --target-path bench/1000000/target \\
        --arm 'aqe off:spark.sql.adaptive.enabled=false' --version-tables --rounds 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from spark_analytics.warehouse import VERSIONS_SUFFIX, published_version

AS_CONFIGURED = "as configured"
VERSION_TABLES = "version tables"


def compiled_test_queries(target_path: Path) -> dict[str, str]:
    """Test name -> its compiled SQL wrapped in the count dbt's test materialization runs."""
    root = target_path / "compiled"
    return {
        path.stem: f"select count(*) as failures from (\n{path.read_text()}\n) dbt_internal_test"
        for path in sorted(root.glob("*/**/*.yml/*.sql"))
    }


def timed_pass(spark: SparkSession, queries: Mapping[str, str]) -> tuple[float, list[str]]:
    """Seconds to run every query once, and the names of those Spark could not run (unit tests
    compiled against their fixtures, a missing table) — left out, not counted."""
    failed: list[str] = []
    started = time.perf_counter()
    for name, sql in queries.items():
        try:
            spark.sql(sql).collect()
        except Exception:  # noqa: BLE001 (reported by name below)
            failed.append(name)
    return time.perf_counter() - started, failed


def parse_arm(text: str) -> tuple[str, dict[str, str]]:
    """``'NAME:KEY=VALUE,KEY=VALUE'`` -> (name, settings). A value cannot hold a comma."""
    name, colon, pairs = text.partition(":")
    parts = [part.partition("=") for part in pairs.split(",")]
    if not colon or not name.strip() or any(not key.strip() or not eq for key, eq, _ in parts):
        raise ValueError(f"arm {text!r}: expected 'NAME:KEY=VALUE[,KEY=VALUE...]'")
    settings = {key.strip(): value.strip() for key, _, value in parts}
    if len(settings) != len(parts):
        raise ValueError(f"arm {text!r}: a setting is given twice")
    return name.strip(), settings


def published_versions(spark: SparkSession) -> dict[str, str]:
    """``schema.view`` -> the version table it publishes, for every view a build published."""
    found = {}
    for (schema,) in spark.sql("show schemas").collect():
        if schema.endswith(VERSIONS_SUFFIX):
            continue
        for row in spark.sql(f"show views in `{schema}`").collect():
            if row["isTemporary"]:
                continue
            described = spark.sql(f"describe table extended `{schema}`.`{row['viewName']}`")
            for name, text, _ in described.collect():
                if name == "View Text" and (version := published_version(text)):
                    found[f"{schema}.{row['viewName']}"] = version
    return found


def read_versions(sql: str, versions: Mapping[str, str]) -> str:
    """The query with each published view's name, as dbt writes it (``schema.name``, unquoted),
    replaced by its version table's. Views with logic of their own still read the views."""
    for view, version in versions.items():
        sql = re.sub(rf"(?<![\w.`]){re.escape(view)}(?![\w`])", version, sql, flags=re.IGNORECASE)
    return sql


def compare_arms(
    spark: SparkSession,
    arms: Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]],
    rounds: int,
) -> dict[str, tuple[list[float], list[str]]]:
    """Each arm (name -> (session settings, queries)) timed once a round, the order reversed
    every other round; the session's own settings are restored after each. Returns name ->
    (seconds per round, the queries that failed under it)."""
    results: dict[str, tuple[list[float], list[str]]] = {name: ([], []) for name in arms}
    order = list(arms)
    for number in range(rounds):
        for name in order if number % 2 == 0 else reversed(order):
            settings, queries = arms[name]
            before = {key: spark.conf.get(key, None) for key in settings}
            try:
                for key, value in settings.items():
                    spark.conf.set(key, value)
                seconds, failed = timed_pass(spark, queries)
            finally:
                for key, value in before.items():
                    if value is None:
                        spark.conf.unset(key)
                    else:
                        spark.conf.set(key, value)
            results[name][0].append(seconds)
            results[name][1][:] = sorted(set(results[name][1]) | set(failed))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-path", type=Path, default=Path("target"))
    parser.add_argument("--warm-passes", type=int, default=1)
    parser.add_argument("--arm", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--version-tables", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the variants (>= 1)")
    args = parser.parse_args(argv)
    queries = compiled_test_queries(args.target_path)
    if not queries:
        parser.error(f"no compiled data tests under {args.target_path}/compiled: run dbt first")
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    variants: dict[str, dict[str, str]] = {}
    for text in args.arm:
        try:
            name, settings = parse_arm(text)
        except ValueError as error:
            parser.error(str(error))
        if name in variants or name in (AS_CONFIGURED, VERSION_TABLES):
            parser.error(f"arm {text!r}: the name {name!r} is taken")
        variants[name] = settings

    from spark_analytics.session import build_session

    spark = build_session("bench-test-queries")
    spark.sql("select 1").collect()  # session start is not part of any pass
    # A misspelt or static setting would time an arm that changes nothing, or fail it late.
    for name, settings in variants.items():
        for key in settings:
            if not spark.conf.isModifiable(key):
                parser.error(f"arm {name!r}: {key} is not a setting a session can change")
    cold, failed = timed_pass(spark, queries)
    ran = {name: sql for name, sql in queries.items() if name not in failed}
    each = 1000 / max(len(ran), 1)
    print(f"{len(ran)} queries, cold JVM: {cold:.1f} s ({cold * each:.0f} ms each)")
    for number in range(1, args.warm_passes + 1):
        warm, _ = timed_pass(spark, ran)
        print(f"warm pass {number}: {warm:.1f} s ({warm * each:.0f} ms each)")
    if failed:
        print(f"not run ({len(failed)}): {', '.join(failed)}")
    if not variants and not args.version_tables:
        return 0
    arms: dict[str, tuple[Mapping[str, str], Mapping[str, str]]] = {AS_CONFIGURED: ({}, ran)}
    arms.update({name: (settings, ran) for name, settings in variants.items()})
    if args.version_tables:
        versions = published_versions(spark)
        rewritten = {name: read_versions(sql, versions) for name, sql in ran.items()}
        changed = sum(rewritten[name] != sql for name, sql in ran.items())
        print(f"{len(versions)} published views; {changed} of {len(ran)} queries read one")
        arms[VERSION_TABLES] = ({}, rewritten)
    results = compare_arms(spark, arms, args.rounds)
    baseline = statistics.median(results[AS_CONFIGURED][0])
    for name, (seconds, arm_failed) in results.items():
        median = statistics.median(seconds)
        per_round = " / ".join(f"{value:.2f}" for value in seconds)
        note = f"; failed: {', '.join(arm_failed)}" if arm_failed else ""
        print(f"{name}: median {median:.2f} s ({median / baseline:.2f}x), rounds {per_round}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
