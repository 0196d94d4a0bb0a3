"""Streaming ingest against hostile landing directories and checkpoints: half-written files,
a missing landing directory, corrupt and foreign checkpoints, fields in another order, a
backlog bounded per trigger, and a landing directory that is cleaned up as it is ingested."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_analytics.streaming.ingest import (
    BRONZE_PARTITIONS,
    CHECKPOINT_MARKER,
    IngestConfig,
    IngestError,
    Target,
    config_from_args,
    eligible_files,
    glob_escape,
    parse_args,
)
from spark_analytics.streaming.pipeline import ingest_available_now


def event(n: int, **overrides: object) -> str:
    record = {
        "transaction_id": f"t{n}",
        "customer_id": f"c{n}",
        "merchant_id": f"m{n % 3}",
        "purchase_amount": 10.0 + n,
        "event_time": "2024-05-01T10:00:00Z",
        **overrides,
    }
    return json.dumps(record)


def write(path: Path, lines: list[str], age_seconds: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    if age_seconds:
        stamp = time.time() - age_seconds
        os.utime(path, (stamp, stamp))
    return path


def make_config(tmp_path: Path, **overrides: object) -> IngestConfig:
    config = IngestConfig(
        landing=str(tmp_path / "landing"),
        checkpoint=str(tmp_path / "checkpoint"),
        bronze=Target(path=str(tmp_path / "bronze")),
        quarantine=Target(path=str(tmp_path / "quarantine")),
    )
    return replace(config, **overrides)


def bronze_ids(spark: SparkSession, config: IngestConfig) -> set[str]:
    if not any(Path(config.bronze.path).rglob("*.parquet")):
        return set()
    return {r.transaction_id for r in spark.read.parquet(config.bronze.path).collect()}


def quarantine_count(spark: SparkSession, config: IngestConfig) -> int:
    if not any(Path(config.quarantine.path).rglob("*.parquet")):
        return 0
    return spark.read.parquet(config.quarantine.path).count()


# ---------------------------------------------------------------- the landing contract


def test_files_under_temporary_names_are_never_read_and_renamed_ones_are(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    landing = Path(config.landing)
    write(landing / "done.jsonl", [event(1), event(2)])
    half = event(3) + "\n" + event(4)[:25]  # a writer in the middle of its second line
    for name in ("next.jsonl.tmp", ".next.jsonl.1a2b.tmp", "_next.jsonl", "next.jsonl.partial"):
        (landing / name).write_text(half, encoding="utf-8")

    assert ingest_available_now(spark, config)["input_rows"] == 2
    assert bronze_ids(spark, config) == {"t1", "t2"}
    assert quarantine_count(spark, config) == 0  # no half line reached the quarantine

    # the writer finishes and renames into place: the next trigger reads the whole file
    (landing / "next.jsonl.tmp").write_text(event(3) + "\n" + event(4) + "\n", encoding="utf-8")
    os.replace(landing / "next.jsonl.tmp", landing / "next.jsonl")
    assert ingest_available_now(spark, config)["input_rows"] == 2
    assert bronze_ids(spark, config) == {"t1", "t2", "t3", "t4"}
    assert quarantine_count(spark, config) == 0


def test_minimum_file_age_leaves_a_file_written_in_place_for_the_next_trigger(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path, min_file_age_seconds=60)
    landing = Path(config.landing)
    write(landing / "old.jsonl", [event(1)], age_seconds=300)
    in_place = landing / "growing.jsonl"
    in_place.write_text(event(2) + "\n" + event(3)[:30], encoding="utf-8")  # being written

    assert eligible_files(str(landing), 60) == ["old.jsonl"]
    assert ingest_available_now(spark, config)["input_rows"] == 1
    assert bronze_ids(spark, config) == {"t1"}
    assert quarantine_count(spark, config) == 0

    write(in_place, [event(2), event(3)], age_seconds=120)  # complete, and quiet for 2 minutes
    assert ingest_available_now(spark, config)["input_rows"] == 2
    assert bronze_ids(spark, config) == {"t1", "t2", "t3"}
    assert quarantine_count(spark, config) == 0


def test_minimum_file_age_with_glob_characters_in_names(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path, min_file_age_seconds=1)
    landing = Path(config.landing)
    names = ["with space.jsonl", "comma,name.jsonl", "ümlaut.jsonl"]
    for n, name in enumerate(names):
        write(landing / name, [event(n)], age_seconds=30)
    assert glob_escape("a{1,2}*.jsonl") == "a\\{1\\,2\\}\\*.jsonl"
    assert ingest_available_now(spark, config)["input_rows"] == len(names)
    assert bronze_ids(spark, config) == {f"t{n}" for n in range(len(names))}


def test_landed_names_with_glob_characters_are_refused(spark: SparkSession, tmp_path: Path) -> None:
    """Spark's file source re-globs file paths: with b[x].jsonl in a batch it read the other
    files of the batch twice (measured: 7 rows from 4 one-line files). Refused, named."""
    config = make_config(tmp_path)
    write(Path(config.landing) / "ok.jsonl", [event(1)])
    write(Path(config.landing) / "b[x].jsonl", [event(2)])
    with pytest.raises(IngestError, match=r"glob characters \(b\[x\]\.jsonl\)"):
        ingest_available_now(spark, config)


def test_nothing_old_enough_is_an_empty_trigger(spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path, min_file_age_seconds=3600)
    write(Path(config.landing) / "fresh.jsonl", [event(1)])
    assert ingest_available_now(spark, config)["input_rows"] == 0


def test_a_missing_landing_directory_is_an_error_naming_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    with pytest.raises(IngestError, match=f"landing directory {tmp_path / 'landing'} does not"):
        ingest_available_now(spark, config)
    assert not Path(config.landing).exists()  # not silently created


# ---------------------------------------------------------------- checkpoints


def test_a_corrupt_checkpoint_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write(Path(config.landing) / "a.jsonl", [event(1)])
    ingest_available_now(spark, config)
    offsets = Path(config.checkpoint) / "offsets" / "0"
    offsets.write_bytes(b"\x00\x17garbage{{{")
    with pytest.raises(IngestError) as error:
        ingest_available_now(spark, config)
    message = str(error.value)
    assert f"checkpoint {Path(config.checkpoint).resolve()}" in message
    assert str(offsets.resolve()) in message
    assert "Fix:" in message and "new --checkpoint" in message

    offsets.write_text('v1\n{"batchWatermarkMs":0}\n{"logOffset":0', encoding="utf-8")
    with pytest.raises(IngestError, match="line 3 is not JSON"):
        ingest_available_now(spark, config)


def test_a_checkpoint_of_another_landing_directory_is_refused(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    write(Path(config.landing) / "a.jsonl", [event(1)])
    ingest_available_now(spark, config)
    other = replace(config, landing=str(tmp_path / "other"))
    write(Path(other.landing) / "b.jsonl", [event(2)])
    with pytest.raises(IngestError, match="belongs to another query.*own --checkpoint"):
        ingest_available_now(spark, other)
    # a checkpoint from before ingest.json existed: recognised by the files it has read
    (Path(config.checkpoint) / CHECKPOINT_MARKER).unlink()
    with pytest.raises(IngestError, match="outside the landing directory"):
        ingest_available_now(spark, other)
    assert bronze_ids(spark, config) == {"t1"}  # nothing of the other landing was written


def test_a_checkpoint_of_another_source_kind_is_refused(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    write(Path(config.landing) / "a.jsonl", [event(1)])
    checkpoint = Path(config.checkpoint)
    write(checkpoint / "metadata", ['{"id":"5f0c6a1e-0000-4000-8000-000000000000"}'])
    write(checkpoint / "offsets" / "0", ["v1", '{"batchWatermarkMs":0}', '{"events":{"0":42}}'])
    with pytest.raises(IngestError, match="not one of a file source"):
        ingest_available_now(spark, config)


# ---------------------------------------------------------------- columns by name


def test_fields_in_another_order_and_extra_fields_parse_by_name(
    spark: SparkSession, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    reordered = (
        '{"event_time":"2024-05-01T10:00:00Z","purchase_amount":12.5,"extra":"x",'
        '"merchant_id":"m9","customer_id":"c9","transaction_id":"t9"}'
    )
    write(Path(config.landing) / "a.jsonl", [reordered])
    ingest_available_now(spark, config)
    row = spark.read.parquet(config.bronze.path).collect()[0]
    assert (row.transaction_id, row.customer_id, row.merchant_id) == ("t9", "c9", "m9")
    assert row.purchase_amount == 12.5
    assert str(row.event_time) == "2024-05-01 10:00:00"


def test_a_table_with_its_columns_in_another_order_is_written_by_name(
    spark: SparkSession, tmp_path: Path
) -> None:
    spark.sql("create database if not exists hardening")
    spark.sql("drop table if exists hardening.bronze_reordered")
    spark.sql(
        "create table hardening.bronze_reordered (merchant_id string, customer_id string, "
        "transaction_id string, event_time timestamp, source_file string, "
        "purchase_amount double, ingested_at timestamp, event_date date, ingest_batch_id bigint) "
        f"using parquet partitioned by ({', '.join(BRONZE_PARTITIONS)})"
    )
    config = make_config(tmp_path, bronze=Target(table="hardening.bronze_reordered"))
    write(Path(config.landing) / "a.jsonl", [event(5)])
    ingest_available_now(spark, config)
    row = spark.table("hardening.bronze_reordered").collect()[0]
    assert (row.transaction_id, row.customer_id, row.merchant_id) == ("t5", "c5", "m2")
    assert row.purchase_amount == 15.0


# ---------------------------------------------------------------- backlog and clean-up


def land_backlog(landing: Path, files: int, lines_per_file: int = 3) -> None:
    for f in range(files):
        write(
            landing / f"batch-{f:03d}.jsonl",
            [event(f * 100 + n) for n in range(lines_per_file)],
            age_seconds=files - f,  # distinct modification times: the landing order
        )


def test_max_files_per_trigger_splits_a_backlog(spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path, max_files_per_trigger=2)
    land_backlog(Path(config.landing), 5)
    progress = ingest_available_now(spark, config)
    assert progress["batches"] == 3
    assert progress["input_rows"] == 15
    assert len(bronze_ids(spark, config)) == 15


def test_max_bytes_per_trigger_splits_a_backlog(spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    land_backlog(Path(config.landing), 4)
    one_file = (Path(config.landing) / "batch-000.jsonl").stat().st_size
    progress = ingest_available_now(spark, replace(config, max_bytes_per_trigger=one_file))
    assert progress["batches"] > 1
    assert progress["input_rows"] == 12


def test_both_backlog_limits_at_once_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--landing", "l", "--checkpoint", "c", "--bronze-path", "b",
                    "--quarantine-path", "q", "--max-files-per-trigger", "1",
                    "--max-bytes-per-trigger", "10"])  # fmt: skip


def test_cli_flags_reach_the_config(tmp_path: Path) -> None:
    args = parse_args(
        ["--landing", "l", "--checkpoint", "c", "--bronze-path", "b", "--quarantine-path", "q",
         "--max-bytes-per-trigger", "1048576", "--min-file-age-seconds", "30",
         "--clean-source", "archive", "--source-archive-dir", "arch"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.max_bytes_per_trigger == 1048576
    assert config.min_file_age_seconds == 30
    assert (config.clean_source, config.source_archive_dir) == ("archive", "arch")


def test_clean_source_archive_keeps_the_landing_directory_small(
    spark: SparkSession, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    config = make_config(
        tmp_path, max_files_per_trigger=1, clean_source="archive", source_archive_dir=str(archive)
    )
    landing = Path(config.landing)
    land_backlog(landing, 4)
    assert ingest_available_now(spark, config)["input_rows"] == 12
    # files of a completed batch are archived once the next batch starts: only the last remains
    assert len(list(landing.glob("*.jsonl"))) <= 1
    archived = sorted(p.name for p in archive.rglob("*.jsonl"))
    assert len(archived) >= 3
    assert set(archived) <= {f"batch-{f:03d}.jsonl" for f in range(4)}
    # the archive keeps the full original path under the archive directory
    assert all(str(landing.resolve()) in str(p.parent) for p in archive.rglob("*.jsonl"))

    write(landing / "later.jsonl", [event(999)], age_seconds=0)
    assert ingest_available_now(spark, config)["input_rows"] == 1
    assert len(bronze_ids(spark, config)) == 13  # nothing lost, nothing read twice
    assert [p.name for p in landing.glob("*.jsonl")] == ["later.jsonl"]
    assert len(list(archive.rglob("*.jsonl"))) == 4


def test_clean_source_delete(spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path, max_files_per_trigger=1, clean_source="delete")
    land_backlog(Path(config.landing), 3)
    assert ingest_available_now(spark, config)["input_rows"] == 9
    assert len(list(Path(config.landing).glob("*.jsonl"))) <= 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"clean_source": "archive"}, "needs --source-archive-dir"),
        ({"clean_source": "archive", "source_archive_dir": "LANDING/archive"}, "overlaps"),
        ({"source_archive_dir": "elsewhere"}, "needs --clean-source archive"),
        ({"max_files_per_trigger": 0}, "must be >= 1"),
        ({"max_files_per_trigger": 1, "max_bytes_per_trigger": 1}, "not both"),
    ],
)
def test_bad_source_options_are_clear_errors(
    spark: SparkSession, tmp_path: Path, overrides: dict, message: str
) -> None:
    config = make_config(tmp_path)
    Path(config.landing).mkdir()
    if "source_archive_dir" in overrides:
        overrides = {
            **overrides,
            "source_archive_dir": overrides["source_archive_dir"].replace(
                "LANDING", config.landing
            ),
        }
    with pytest.raises(IngestError, match=message):
        ingest_available_now(spark, replace(config, **overrides))
