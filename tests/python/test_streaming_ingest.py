"""The streaming ingest: every landed line ends up in bronze or quarantine, exactly once, also
when the process is killed in the middle of a micro-batch and restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.streaming.ingest import (
    IngestConfig,
    Target,
    classify_lines,
    parse_trigger,
    read_lines,
)
from spark_analytics.streaming.pipeline import ingest_available_now
from spark_analytics.streaming.replay import ReplayConfig, generated_transactions, replay

REPO_ROOT = Path(__file__).resolve().parents[2]
REPLAY = ReplayConfig(
    batch_rows=150,
    seed=11,
    late_fraction=0.1,
    late_hours=5,
    duplicate_fraction=0.05,
    malformed_fraction=0.04,
    out_of_order=True,
)


def land(landing: Path, rows: int, seed: int = 11) -> dict:
    chunks = generated_transactions(rows, seed=seed)
    return replay(chunks, landing, REPLAY, prefix=f"seed{seed}")


def landed_lines(landing: Path) -> list[tuple[str, str]]:
    """(file name, line) for every landed line, read without Spark."""
    return [
        (path.name, line)
        for path in sorted(landing.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def split_landed(lines: list[tuple[str, str]]) -> tuple[Counter, Counter]:
    """(transaction_id -> valid copies, bad line -> count), by a validator independent of Spark."""
    valid: Counter = Counter()
    bad: Counter = Counter()
    for _, line in lines:
        try:
            record = json.loads(line)
            amount = float(record["purchase_amount"])
            ok = bool(
                str(record["transaction_id"]).strip()
                and str(record["merchant_id"]).strip()
                and amount >= 0
                and datetime.strptime(record["event_time"], "%Y-%m-%d %H:%M:%S")
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if ok:
            valid[record["transaction_id"]] += 1
        else:
            bad[line] += 1
    return valid, bad


def assert_reconciles(landing: Path, bronze: DataFrame, quarantine: DataFrame) -> None:
    """landed lines = bronze rows + quarantined rows, id by id and line by line."""
    lines = landed_lines(landing)
    valid, bad = split_landed(lines)
    assert Counter(r.transaction_id for r in bronze.select("transaction_id").collect()) == valid
    assert Counter(r.raw_line for r in quarantine.select("raw_line").collect()) == bad
    assert bronze.count() + quarantine.count() == len(lines)


def test_lines_are_classified_with_the_staging_reasons(spark: SparkSession) -> None:
    good = '{"transaction_id":"t1","customer_id":"c1","merchant_id":"m1",'
    lines = spark.createDataFrame(
        [
            (good + '"purchase_amount":10.5,"event_time":"2024-01-01T10:00:00Z"}', "f"),
            (good + '"purchase_amount":"7","event_time":"2024-01-01 11:00:00"}', "f"),
            (good + '"purchase_amount":10.5,"event_time":"2024-01-01T10:0', "f"),
            ("", "f"),
            ('{"customer_id":"c1","merchant_id":"m1","purchase_amount":1,"event_time":"x"}', "f"),
            (good.replace('"m1"', '" "') + '"purchase_amount":1,"event_time":"2024-01-01"}', "f"),
            (good + '"event_time":"2024-01-01"}', "f"),
            (good + '"purchase_amount":"NaN","event_time":"2024-01-01"}', "f"),
            (good + '"purchase_amount":-1,"event_time":"2024-01-01"}', "f"),
            (good + '"purchase_amount":1,"event_time":"soon"}', "f"),
        ],
        "raw_line string, source_file string",
    )
    result = lines.transform(classify_lines).select("reason", "purchase_amount", "event_time")
    expected = spark.createDataFrame(
        [
            (None, 10.5, "2024-01-01 10:00:00"),
            (None, 7.0, "2024-01-01 11:00:00"),
            ("malformed_row", None, None),
            ("malformed_row", None, None),
            ("missing_transaction_id", 1.0, None),
            ("missing_merchant_id", 1.0, "2024-01-01 00:00:00"),
            ("null_amount", None, "2024-01-01 00:00:00"),
            ("non_numeric_amount", float("nan"), "2024-01-01 00:00:00"),
            ("negative_amount", -1.0, "2024-01-01 00:00:00"),
            ("unparseable_event_time", 1.0, None),
        ],
        "reason string, purchase_amount double, event_time string",
    ).withColumn("event_time", F.to_timestamp("event_time"))
    assertDataFrameEqual(result, expected)


def test_ingest_reconciles_with_what_landed(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    manifest = land(landing, 900)
    config = IngestConfig(
        landing=str(landing),
        checkpoint=str(tmp_path / "checkpoint"),
        bronze=Target(path=str(tmp_path / "bronze")),
        quarantine=Target(path=str(tmp_path / "quarantine")),
        max_files_per_trigger=2,
    )
    progress = ingest_available_now(spark, config)
    assert progress["input_rows"] == manifest["lines"]
    assert progress["batches"] == -(-len(manifest["files"]) // 2)

    bronze = spark.read.parquet(config.bronze.path)
    quarantine = spark.read.parquet(config.quarantine.path)
    assert_reconciles(landing, bronze, quarantine)
    assert bronze.count() == manifest["valid_lines"]
    duplicates = bronze.count() - bronze.select("transaction_id").distinct().count()
    assert duplicates == manifest["duplicate_lines"] > 0  # kept in bronze, counted, never lost
    reasons = {r.reason: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    assert reasons == manifest["malformed_by_reason"]
    assert bronze.where("event_date != to_date(event_time)").count() == 0

    # a second run finds nothing new: the checkpoint remembers the files
    assert ingest_available_now(spark, config)["input_rows"] == 0
    assert spark.read.parquet(config.bronze.path).count() == bronze.count()


@pytest.mark.parametrize(
    "sink",
    ["path", pytest.param("table", marks=pytest.mark.slow)],  # table sink: --runslow
)
def test_kill_mid_batch_and_restart_gives_no_duplicates_and_no_gaps(
    spark: SparkSession, tmp_path: Path, sink: str
) -> None:
    """Both sinks: Parquet directories, and the metastore tables `make stream` writes."""
    landing = tmp_path / "landing"
    land(landing, 1200)
    if sink == "path":
        bronze, quarantine = tmp_path / "bronze", tmp_path / "quarantine"
        sinks = ["--bronze-path", str(bronze), "--quarantine-path", str(quarantine)]
    else:
        warehouse = tmp_path / "spark" / "warehouse" / "events.db"
        bronze, quarantine = warehouse / "bronze_transactions", warehouse / "quarantine_events"
        sinks = [
            "--bronze-table",
            "events.bronze_transactions",
            "--quarantine-table",
            "events.quarantine_events",
        ]
    command = [
        sys.executable,
        "-m",
        "spark_analytics.streaming.ingest",
        "--landing",
        str(landing),
        "--checkpoint",
        str(tmp_path / "checkpoint"),
        *sinks,
        "--max-files-per-trigger",
        "2",
    ]
    env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "spark"), "SPARK_MASTER": "local[2]"}
    log = tmp_path / "ingest.log"
    with open(log, "w") as handle:
        victim = subprocess.Popen(
            [*command, "--pause-after-bronze-seconds", "30"],
            cwd=REPO_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 240
            while "batch 1: bronze written" not in log.read_text():
                assert victim.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "ingest never reached batch 1"
                time.sleep(0.2)
            victim.send_signal(signal.SIGKILL)  # batch 1: bronze written, quarantine and commit not
        finally:
            victim.kill()
            victim.wait()
    half_done = spark.read.parquet(str(bronze))
    assert half_done.where("ingest_batch_id = 1").count() > 0
    assert not (tmp_path / "checkpoint" / "commits" / "1").exists()

    restarted = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert_reconciles(landing, spark.read.parquet(str(bronze)), spark.read.parquet(str(quarantine)))


def test_kafka_without_the_connector_fails_with_a_clear_message(spark: SparkSession) -> None:
    config = IngestConfig(
        landing="unused",
        checkpoint="unused",
        bronze=Target(path="unused"),
        quarantine=Target(path="unused"),
        source="kafka",
        kafka_bootstrap_servers="127.0.0.1:9092",
        kafka_topic="transactions",
    )
    with pytest.raises(RuntimeError, match="spark-sql-kafka-0-10"):
        read_lines(spark, config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("available-now", {"availableNow": True}),
        ("processing-time=10s", {"processingTime": "10 seconds"}),
        ("processing-time=2m", {"processingTime": "2 minutes"}),
    ],
)
def test_trigger_is_configuration(text: str, expected: dict) -> None:
    assert parse_trigger(text) == expected


def test_unknown_trigger_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown trigger"):
        parse_trigger("continuous")
