"""Benchmark of the event pipeline on this machine: ingest throughput and end-to-end latency.

    python -m spark_analytics.bench.streaming [--events 300000] [--cycles 5]

1. Throughput: ``--events`` transactions (with late, duplicate and bad lines) are landed as
   files of ``--batch-rows``, then one availableNow ingest processes them; events/s = landed
   lines / wall time of the ingest (sustained: many micro-batches, not one).
2. Latency, ``--cycles`` times: one file of ``--cycle-rows`` lands; the clock runs until its
   transactions are visible in fct_merchant_hourly_transactions, i.e. ingest micro-batch + dbt
   incremental run (+fct_merchant_daily_transactions) + a query that checks the table.

Everything runs in one warm process (dbt in-process on the same SparkSession), with its own
metastore, warehouse and landing directory under ``--workdir`` (wiped first).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from spark_analytics.progress import track
from spark_analytics.session import build_session
from spark_analytics.streaming.ingest import IngestConfig, Target
from spark_analytics.streaming.pipeline import ingest_available_now, run_dbt
from spark_analytics.streaming.replay import (
    ReplayConfig,
    generated_transactions,
    plan_batches,
    replay,
    write_batch_file,
)

HOURLY = "fct_merchant_hourly_transactions"


def isolate(workdir: Path) -> None:
    """Own metastore, warehouse and dbt target under ``workdir``."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    os.environ["SPARK_STATE_DIR"] = str(workdir / "spark")
    os.environ["DBT_TARGET_PATH"] = str(workdir / "target")
    os.environ["DBT_LOG_PATH"] = str(workdir / "logs")


def hourly_table(spark: SparkSession) -> str:
    (name,) = [
        f"{row.namespace}.{HOURLY}"
        for db in spark.catalog.listDatabases()
        for row in spark.sql(f"show tables in {db.name} like '{HOURLY}'").collect()
    ]
    return name


def is_visible(spark: SparkSession, hourly: str, config: IngestConfig, file_name: str) -> bool:
    """All of the file's transactions are counted in the hourly table."""
    row = spark.sql(
        f"""
        select
            count(*) as missing
        from {config.bronze.table} as bronze
        cross join (select max(max_ingested_at) as counted_up_to from {hourly}) as hourly
        where bronze.source_file like '%/{file_name}'
            and (hourly.counted_up_to is null or bronze.ingested_at > hourly.counted_up_to)
        """
    ).first()
    landed = spark.sql(
        f"select count(*) as n from {config.bronze.table} where source_file like '%/{file_name}'"
    ).first()
    return landed.n > 0 and row.missing == 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/spark-analytics-stream-bench"))
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch-rows", type=int, default=25_000)
    parser.add_argument("--max-files-per-trigger", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--cycle-rows", type=int, default=5_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    isolate(args.workdir)
    landing = args.workdir / "landing"
    config = IngestConfig(
        landing=str(landing),
        checkpoint=str(args.workdir / "checkpoint"),
        bronze=Target(table="events.bronze_transactions"),
        quarantine=Target(table="events.quarantine_events"),
        max_files_per_trigger=args.max_files_per_trigger,
    )
    replay_config = ReplayConfig(
        batch_rows=args.batch_rows,
        late_fraction=0.01,
        late_hours=6,
        duplicate_fraction=0.01,
        malformed_fraction=0.001,
    )
    total = args.events + args.cycles * args.cycle_rows
    chunks = generated_transactions(total, seed=42)

    started = time.monotonic()
    spark = build_session("events-bench")
    spark.sparkContext.setLogLevel("ERROR")
    jvm_seconds = time.monotonic() - started

    # 1. throughput: the first --events clean events, landed before the ingest starts
    events = pd.concat(list(chunks), ignore_index=True)
    bulk = replay([events.iloc[: args.events]], landing, replay_config, prefix="bulk")
    cycle_config = ReplayConfig(**{**asdict(replay_config), "batch_rows": args.cycle_rows})
    batches = plan_batches([events.iloc[args.events :]], cycle_config)
    started = time.monotonic()
    progress = ingest_available_now(spark, config)
    ingest_seconds = time.monotonic() - started
    throughput = {
        "landed_lines": bulk["lines"],
        "files": len(bulk["files"]),
        "micro_batches": progress["batches"],
        "wall_seconds": round(ingest_seconds, 2),
        "events_per_second": round(bulk["lines"] / ingest_seconds),
    }
    first_dbt = run_dbt(["run", "-s", "+fct_merchant_daily_transactions", "--full-refresh"])
    hourly = hourly_table(spark)

    # 2. latency: one file at a time, landed -> visible in the hourly table
    cycles = []
    for cycle in track(range(args.cycles), desc="latency cycles", unit="cycles"):
        batch = next(batches)
        name = f"cycle-{cycle:03d}.jsonl"
        landed_at = time.monotonic()
        write_batch_file(landing, name, batch.lines)
        ingest_at = time.monotonic()
        ingest_available_now(spark, config)
        dbt_at = time.monotonic()
        run_dbt(["run", "-s", "+fct_merchant_daily_transactions"])
        check_at = time.monotonic()
        if not is_visible(spark, hourly, config, name):
            raise RuntimeError(f"{name} is not visible in {hourly} after the dbt run")
        done = time.monotonic()
        cycles.append(
            {
                "lines": len(batch.lines),
                "ingest_s": round(dbt_at - ingest_at, 2),
                "dbt_s": round(check_at - dbt_at, 2),
                "end_to_end_s": round(done - landed_at, 2),
            }
        )
    latencies = [c["end_to_end_s"] for c in cycles]
    result = {
        "machine": {"cores": os.cpu_count(), "jvm_start_s": round(jvm_seconds, 2)},
        "throughput": throughput,
        "first_full_refresh_dbt_s": round(first_dbt, 2),
        "latency": {
            "cycles": cycles,
            "median_end_to_end_s": round(statistics.median(latencies), 2),
            "max_end_to_end_s": round(max(latencies), 2),
        },
    }
    print()
    print(f"{'ingest throughput':<32}{'end-to-end latency (landed -> hourly table)':<50}")
    print(
        f"{throughput['events_per_second']:>10,} events/s{'':<13}"
        f"median {result['latency']['median_end_to_end_s']:.1f} s, "
        f"max {result['latency']['max_end_to_end_s']:.1f} s "
        f"(ingest {statistics.median(c['ingest_s'] for c in cycles):.1f} s + "
        f"dbt {statistics.median(c['dbt_s'] for c in cycles):.1f} s)"
    )
    print(
        f"({throughput['landed_lines']:,} lines, {throughput['files']} files, "
        f"{throughput['micro_batches']} micro-batches in {throughput['wall_seconds']} s; "
        f"{args.cycles} cycles of ~{args.cycle_rows:,} events)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
