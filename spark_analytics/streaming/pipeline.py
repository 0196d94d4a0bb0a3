"""One pipeline cycle in one JVM: ingest what has landed (availableNow), then dbt.

    python -m spark_analytics.streaming.pipeline --landing data/landing \
        --checkpoint data/checkpoints/events -- build -s +merchant_daily_transactions

The embedded Derby metastore admits one JVM at a time, so the ingest and dbt's embedded session
cannot run side by side in two processes. Here dbt runs in-process (dbtRunner) after the ingest
and its ``method: session`` connection picks up the same SparkSession (``getOrCreate``), which
also saves one JVM start per cycle. On a cluster with a shared metastore the ingest can instead
run continuously (``ingest --trigger processing-time=10s``) next to scheduled dbt runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace

from pyspark.sql import SparkSession

from spark_analytics.session import build_session
from spark_analytics.streaming.ingest import (
    IngestConfig,
    Target,
    progress_summary,
    start_ingest,
)

DEFAULT_DBT_ARGS = ("build", "-s", "+merchant_daily_transactions")


def ingest_available_now(spark: SparkSession, config: IngestConfig) -> dict:
    """Processes every file landed so far, then returns the progress summary."""
    query = start_ingest(spark, replace(config, trigger="available-now"))
    query.awaitTermination()
    if query.exception() is not None:
        raise RuntimeError(f"ingest failed: {query.exception()}")
    return progress_summary(query)


def run_dbt(args: list[str]) -> float:
    """Runs dbt in this process (reusing the active SparkSession); returns seconds taken."""
    from dbt.cli.main import dbtRunner  # noqa: PLC0415 - heavy import, only when dbt runs

    started = time.monotonic()
    result = dbtRunner().invoke(list(args))
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log'}")
    return time.monotonic() - started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--bronze-table", default="events.bronze_transactions")
    parser.add_argument("--quarantine-table", default="events.quarantine_events")
    parser.add_argument("--max-files-per-trigger", type=int, default=None)
    parser.add_argument("--skip-dbt", action="store_true")
    parser.add_argument("dbt_args", nargs="*", help="dbt command (after --)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    args = parse_args(argv)
    config = IngestConfig(
        landing=args.landing,
        checkpoint=args.checkpoint,
        bronze=Target(table=args.bronze_table),
        quarantine=Target(table=args.quarantine_table),
        max_files_per_trigger=args.max_files_per_trigger,
    )
    spark = build_session("events-pipeline")
    started = time.monotonic()
    summary = {"ingest": ingest_available_now(spark, config)}
    summary["ingest_seconds"] = round(time.monotonic() - started, 2)
    if not args.skip_dbt:
        summary["dbt_seconds"] = round(run_dbt(args.dbt_args or list(DEFAULT_DBT_ARGS)), 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
