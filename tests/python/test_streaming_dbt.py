"""Incremental event models: built batch by batch as data arrives (late events, duplicates that
arrive in later batches, bad lines) they equal a full refresh and an independent PySpark
computation, and re-delivering a batch changes nothing.

Each cycle is one `python -m spark_analytics.streaming.pipeline` (ingest availableNow, then dbt
in-process on the same SparkSession) with its own metastore and warehouse in tmp, run in the
project's warm runner (tests/python/warm_dbt.py): one JVM for the five cycles, as a scheduler's
long-lived process would keep it. A restart from the checkpoint in a new process is
test_streaming_ingest's.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.streaming.replay import (
    ReplayConfig,
    generated_transactions,
    plan_batches,
    write_batch_file,
)
from tests.python import warm_dbt
from tests.python.dbt_project import EVENTS, MARTS, REPO_ROOT, DbtProject

# The dbt project to run (the repository's; override to try a scratch copy).
PROJECT_DIR = os.environ.get("STREAM_TEST_DBT_PROJECT_DIR", str(REPO_ROOT))
SELECT = ["-s", "+fct_merchant_daily_transactions"]
ROUNDS = 3
REPLAY = ReplayConfig(
    batch_rows=200,
    seed=5,
    late_fraction=0.1,
    late_hours=8,
    duplicate_fraction=0.06,
    malformed_fraction=0.02,
    out_of_order=True,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    project = DbtProject(
        tmp_path_factory.mktemp("stream-dbt"),
        extra_env=(
            ("DBT_PROJECT_DIR", PROJECT_DIR),
            ("DBT_TARGET", "local"),
            ("SPARK_MASTER", "local[2]"),
            ("SPARK_DRIVER_MEMORY", "1g"),
        ),
    )
    # The on-run-start hook registers every file source, so the batch files must exist too.
    project.generate("--rows", "200", "--seed", "1")
    yield project
    warm_dbt.stop(project.state_dir)  # its JVM's memory, for the next suites


def run_cycle(project: DbtProject, *dbt_args: str) -> dict:
    """One `spark_analytics.streaming.pipeline` cycle (ingest availableNow, then dbt), in the
    project's warm runner as a scheduler's long-lived process would run it."""
    done = project.python(
        "-m",
        "spark_analytics.streaming.pipeline",
        "--landing",
        str(project.workdir / "landing"),
        "--checkpoint",
        str(project.workdir / "checkpoint"),
        "--",
        *dbt_args,
        timeout=900,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def warehouse_table(project: DbtProject, spark: SparkSession, name: str) -> DataFrame:
    """A table's current files, read by path (the metastore belongs to the warm runner):
    the ingest's bronze table in EVENTS, the event models in MARTS."""
    schema = EVENTS if name == "bronze_transactions" else MARTS
    files = spark.read.parquet(str(project.table_path(schema, name)))
    return spark.createDataFrame(files.collect(), files.schema)  # a snapshot, not a lazy read


def independent_hourly(bronze: DataFrame) -> DataFrame:
    """The seed's computation on deduplicated bronze rows, written without the models."""
    cents = F.col("purchase_amount").cast("decimal(18,2)")
    return (
        bronze.dropDuplicates(["transaction_id"])
        .groupBy("merchant_id", F.window("event_time", "1 hour"))
        .agg(F.count("*").alias("transaction_count"), F.sum(cents).alias("total"))
        .select(
            "merchant_id",
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "transaction_count",
            F.col("total").cast("decimal(18,2)").alias("total_amount"),
            (F.col("total") / F.col("transaction_count")).cast("decimal(18,2)").alias("avg_amount"),
        )
    )


def test_incremental_runs_equal_full_refresh_and_pyspark(
    spark: SparkSession, project: DbtProject
) -> None:
    chunks = generated_transactions(2400, seed=5, merchants=6)
    batches = list(plan_batches(chunks, REPLAY))
    per_round = -(-len(batches) // ROUNDS)
    rounds = [batches[i : i + per_round] for i in range(0, len(batches), per_round)]
    assert len(rounds) == ROUNDS

    # the scenario really has late events and duplicates that cross dbt runs
    def ids_and_times(round_batches):
        records = []
        for batch in round_batches:
            for line in batch.lines:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return {(r.get("transaction_id"), r.get("event_time")) for r in records}

    seen = ids_and_times(rounds[0])
    for later in rounds[1:]:
        current = ids_and_times(later)
        assert {tid for tid, _ in current} & {tid for tid, _ in seen}, "no cross-run duplicate"
        assert min(t for _, t in current if t and t[0] == "2") < max(
            t for _, t in seen if t and t[0] == "2"
        ), "no late event for an already computed window"
        seen |= current

    landing = project.workdir / "landing"
    for index, round_batches in enumerate(rounds):
        for batch in round_batches:
            write_batch_file(landing, f"events-{batch.seq:06d}.jsonl", batch.lines)
        command = "build" if index == ROUNDS - 1 else "run"  # the last one runs the data tests
        run_cycle(project, command, *SELECT)
    incremental_hourly = warehouse_table(project, spark, "fct_merchant_hourly_transactions")
    incremental_daily = warehouse_table(project, spark, "fct_merchant_daily_transactions")

    bronze = warehouse_table(project, spark, "bronze_transactions")
    expected = independent_hourly(bronze)
    assertDataFrameEqual(incremental_hourly.select(*expected.columns), expected)
    assert bronze.select("transaction_id").distinct().count() == 2400

    # a batch delivered again (same lines, new file name) changes nothing
    shutil.copy(landing / "events-000004.jsonl", landing / "events-000004-redelivered.jsonl")
    cycle = run_cycle(project, "run", *SELECT)
    assert cycle["ingest"]["input_rows"] > 0
    assertDataFrameEqual(
        warehouse_table(project, spark, "fct_merchant_hourly_transactions"), incremental_hourly
    )

    run_cycle(project, "run", "--full-refresh", *SELECT)
    assertDataFrameEqual(
        warehouse_table(project, spark, "fct_merchant_hourly_transactions"), incremental_hourly
    )
    assertDataFrameEqual(
        warehouse_table(project, spark, "fct_merchant_daily_transactions"), incremental_daily
    )
    daily_from_hourly = incremental_hourly.groupBy("merchant_id", "event_date").agg(
        F.sum("transaction_count").alias("transaction_count")
    )
    assertDataFrameEqual(
        incremental_daily.select("merchant_id", "event_date", "transaction_count"),
        daily_from_hourly,
    )
