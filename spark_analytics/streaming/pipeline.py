"""One pipeline cycle in one JVM: ingest what has landed (availableNow), then dbt.

    python -m spark_analytics.streaming.pipeline --landing data/landing \
        --checkpoint data/checkpoints/events -- build -s +fct_merchant_daily_transactions

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
import sys
import time
from dataclasses import replace

from pyspark.sql import SparkSession

from spark_analytics.session import build_session
from spark_analytics.streaming.ingest import (
    IngestConfig,
    Target,
    add_file_source_arguments,
    file_source_options,
    progress_summary,
    run_available_now,
)

DEFAULT_DBT_ARGS = ("build", "-s", "+fct_merchant_daily_transactions")


def ingest_available_now(spark: SparkSession, config: IngestConfig) -> dict:
    """Processes every file landed so far (old enough, with a minimum file age), then returns
    the progress summary. Raises ``IngestError`` (a RuntimeError) with a clear message."""
    return progress_summary(run_available_now(spark, replace(config, trigger="available-now")))


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
    add_file_source_arguments(parser)
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
        **file_source_options(args),
    )
    spark = build_session("events-pipeline")
    started = time.monotonic()
    try:
        summary = {"ingest": ingest_available_now(spark, config)}
    except RuntimeError as exc:
        print(f"pipeline: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    summary["ingest_seconds"] = round(time.monotonic() - started, 2)
    if not args.skip_dbt:
        summary["dbt_seconds"] = round(run_dbt(args.dbt_args or list(DEFAULT_DBT_ARGS)), 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
