"""The data tests' Spark cost without dbt: their compiled queries, cold and then warm.

Runs every data test that dbt compiled into ``--target-path`` (``compiled/.../*.yml/*.sql``),
wrapped as dbt's test materialization wraps it, one after another in one local session on
SPARK_STATE_DIR's tables: first in the fresh JVM (what ``dbt test`` pays), then again (JIT and
generated code warm). Comparing the cold pass with dbt's summed test time shows what dbt adds;
cold against warm shows what the JVM's first sight of each query costs.

    SPARK_STATE_DIR=bench/1000000/spark python -m spark_analytics.bench.test_queries \\
        --target-path bench/1000000/target
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyspark.sql import SparkSession


def compiled_test_queries(target_path: Path) -> dict[str, str]:
    """Test name -> its compiled SQL wrapped in the count dbt's test materialization runs."""
    root = target_path / "compiled"
    return {
        path.stem: f"select count(*) as failures from (\n{path.read_text()}\n) dbt_internal_test"
        for path in sorted(root.glob("*/**/*.yml/*.sql"))
    }


def timed_pass(spark: SparkSession, queries: dict[str, str]) -> tuple[float, list[str]]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-path", type=Path, default=Path("target"))
    parser.add_argument("--warm-passes", type=int, default=1)
    args = parser.parse_args(argv)
    queries = compiled_test_queries(args.target_path)
    if not queries:
        parser.error(f"no compiled data tests under {args.target_path}/compiled: run dbt first")

    from spark_analytics.session import build_session

    spark = build_session("bench-test-queries")
    spark.sql("select 1").collect()  # session start is not part of any pass
    cold, failed = timed_pass(spark, queries)
    ran = len(queries) - len(failed)
    print(f"{ran} queries, cold JVM: {cold:.1f} s ({cold / max(ran, 1) * 1000:.0f} ms each)")
    for number in range(1, args.warm_passes + 1):
        warm, _ = timed_pass(spark, {k: v for k, v in queries.items() if k not in failed})
        print(f"warm pass {number}: {warm:.1f} s ({warm / max(ran, 1) * 1000:.0f} ms each)")
    if failed:
        print(f"not run ({len(failed)}): {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
