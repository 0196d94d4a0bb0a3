"""Structured Streaming ingest: landed transaction events -> bronze table + quarantine table.

    python -m spark_analytics.streaming.ingest --landing data/landing \
        --bronze-table events.bronze_transactions --quarantine-table events.quarantine_events \
        --checkpoint data/checkpoints/events --trigger available-now

Every line is read as text and parsed with ``from_json`` against an all-string schema plus
``_corrupt_record``, so nothing is dropped by the reader: a line either becomes a typed bronze
row or a quarantine row carrying the raw line, the reason, the source file and the ingest time
(the reasons are the ones ``stg_raw__transactions`` uses for the batch files).

Exactly-once across restarts: the file (or Kafka) source records each micro-batch's input in the
checkpoint before the batch runs and replays exactly that input if the batch did not commit. The
foreachBatch writer tags every row with the batch id and writes both tables partitioned by it
(bronze: ``event_date``, ``ingest_batch_id``; quarantine: ``ingest_batch_id``) with dynamic
partition overwrite, so a replayed batch replaces whatever a killed attempt had written instead
of appending to it. Duplicated transaction_ids in the input are kept in bronze (it is the
faithful record of what arrived) and removed deterministically in ``stg_events__transactions``.

Targets are metastore tables (``--bronze-table``: what dbt reads as the ``events`` source; the
session uses the project's metastore, see ``session``) or plain Parquet directories
(``--bronze-path``: for a writer that must not hold the embedded Derby metastore). Rows are
written to a table by column name (reordered to the table's columns), never by position.

The landing contract (file source). A writer writes each file under a temporary name (hidden,
``.name.jsonl.<id>.tmp``, or ``name.jsonl.tmp``) and renames it to ``name.jsonl`` when it is
complete (``replay.write_batch_file`` does exactly that). The ingest enforces its side:

* only ``*.jsonl`` files are read (``pathGlobFilter``); names starting with ``.`` or ``_`` and
  ``*.tmp``/``*.jsonl.tmp``/``*.partial`` are never read, so an in-progress file is invisible;
* ``--min-file-age-seconds N`` (0 = off) additionally leaves files modified less than N seconds
  ago for the next trigger, for writers that write ``name.jsonl`` in place. The file source
  refuses ``modifiedBefore``, so the ingest lists the landing directory itself and passes the
  old-enough names as the glob; each trigger is then a fresh availableNow run (a
  ``processing-time`` trigger becomes a loop of them);
* the landing directory must exist (a missing one is an error naming it, not an empty stream);
* landed names must not contain glob characters (``* ? [ ] { } \\``): Spark's file source
  re-globs each file path and, with such a name in a batch, reads the other files twice, so the
  ingest refuses to start and names the files;
* ``--max-files-per-trigger`` / ``--max-bytes-per-trigger`` bound a backlog per micro-batch;
* ``--clean-source archive --source-archive-dir D`` (or ``delete``) moves/deletes the files of a
  batch once the next batch has started (Spark's ``cleanSource``): the files of a run's last
  batch go at the start of the next run, so the landing directory stays bounded.

The checkpoint is checked before the query starts: unreadable log files (``metadata``,
``offsets/``, ``commits/``, ``sources/0/``) or a checkpoint written for another source, landing
directory or target stop the ingest with a message naming the checkpoint and the fix
(``ingest.json`` in the checkpoint records what it belongs to).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pyspark.errors import AnalysisException, StreamingQueryException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StringType, StructField, StructType

from spark_analytics import progress
from spark_analytics.contracts import dbt_var, rejection_reasons
from spark_analytics.session import build_session

log = logging.getLogger("spark_analytics.streaming.ingest")

EVENT_FIELDS = ("transaction_id", "customer_id", "merchant_id", "purchase_amount", "event_time")
CORRUPT = "_corrupt_record"
RAW_SCHEMA = StructType(
    [StructField(name, StringType()) for name in EVENT_FIELDS]
    + [StructField(CORRUPT, StringType())]
)
BRONZE_DDL = """
    transaction_id string,
    customer_id string,
    merchant_id string,
    purchase_amount double,
    event_time timestamp,
    source_file string,
    ingested_at timestamp,
    event_date date,
    ingest_batch_id bigint
"""
BRONZE_PARTITIONS = ("event_date", "ingest_batch_id")
QUARANTINE_DDL = """
    raw_line string,
    reason string,
    source_file string,
    ingested_at timestamp,
    ingest_batch_id bigint
"""
QUARANTINE_PARTITIONS = ("ingest_batch_id",)
KAFKA_HINT = (
    "the Kafka source needs the spark-sql-kafka-0-10 connector on the classpath, e.g. "
    "spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version> "
    "or spark.jars pointing at the jar and its kafka-clients dependency"
)
LANDING_GLOB = "*.jsonl"
CHECKPOINT_MARKER = "ingest.json"
QUERY_NAME = "events_ingest"
NO_ELIGIBLE_FILE = ".no-landed-file-is-old-enough"  # hidden: never matches a real file
CLEAN_SOURCE_MODES = ("off", "archive", "delete")
GLOB_CHARS = frozenset("*?[]{}\\")


class IngestError(RuntimeError):
    """A configuration or input problem the user must fix; the message names it and the fix."""


# ---------------------------------------------------------------- pure transformations


def parse_events(lines: DataFrame) -> DataFrame:
    """raw_line, source_file -> + the parsed string fields and ``_corrupt_record``."""
    parsed = F.from_json(
        "raw_line",
        RAW_SCHEMA,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT},
    )
    return lines.withColumn("parsed", parsed).select(
        "raw_line",
        "source_file",
        *[F.col(f"parsed.{name}").alias(f"raw_{name}") for name in EVENT_FIELDS],
        F.col(f"parsed.{CORRUPT}").alias("corrupt_record"),
    )


def clean_text(column: str) -> Column:
    return F.nullif(F.trim(F.col(column)), F.lit(""))


def parse_datetime(text: Column, data_type: str = "timestamp") -> Column:
    """``text`` as a timestamp (or date), null when it is not one: as macros/parse_datetime.sql,
    it must match var ``datetime_text_pattern`` first, so 'yesterday' or 'now' are not read."""
    return F.when(text.rlike(dbt_var("datetime_text_pattern")), text.try_cast(data_type))


def with_typed_fields(events: DataFrame) -> DataFrame:
    """Trimmed ids and try_cast values (null where missing or not castable)."""
    return events.select(
        "*",
        clean_text("raw_transaction_id").alias("transaction_id"),
        clean_text("raw_customer_id").alias("customer_id"),
        clean_text("raw_merchant_id").alias("merchant_id"),
        clean_text("raw_purchase_amount").try_cast("double").alias("purchase_amount"),
        parse_datetime(clean_text("raw_event_time")).alias("event_time"),
    )


def rejection_reason() -> Column:
    """First failing check, or null for a valid event (same reasons as stg_raw__transactions).

    The checks are chained in the order of the contract's row stage (var ``rejection_reasons``
    in dbt_project.yml, read by ``spark_analytics.contracts``); this only says what each is.
    """
    amount = F.col("purchase_amount")
    conditions = {
        "malformed_row": F.col("corrupt_record").isNotNull() | clean_text("raw_line").isNull(),
        "missing_transaction_id": F.col("transaction_id").isNull(),
        "missing_customer_id": F.col("customer_id").isNull(),
        "missing_merchant_id": F.col("merchant_id").isNull(),
        "null_amount": clean_text("raw_purchase_amount").isNull(),
        "non_numeric_amount": amount.isNull() | F.isnan(amount) | (F.abs(amount) == float("inf")),
        "negative_amount": amount < 0,
        "unparseable_event_time": F.col("event_time").isNull(),
    }
    order = rejection_reasons("transactions", stages="row")
    if set(conditions) != set(order):
        raise ValueError(
            f"ingest checks {sorted(conditions)} differ from the contract's row stage {order}"
        )
    reason = F.when(conditions[order[0]], order[0])
    for name in order[1:]:
        reason = reason.when(conditions[name], name)
    return reason


def classify_lines(lines: DataFrame) -> DataFrame:
    """raw_line, source_file -> typed fields + ``reason`` (null = valid)."""
    return (
        lines.transform(parse_events)
        .transform(with_typed_fields)
        .withColumn("reason", rejection_reason())
    )


def to_bronze(classified: DataFrame, batch_id: int, ingested_at: datetime) -> DataFrame:
    """Valid events in the bronze table's column order (partition columns last)."""
    return classified.where(F.col("reason").isNull()).select(
        "transaction_id",
        "customer_id",
        "merchant_id",
        "purchase_amount",
        "event_time",
        "source_file",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        F.to_date("event_time").alias("event_date"),
        F.lit(batch_id).cast("bigint").alias("ingest_batch_id"),
    )


def to_quarantine(classified: DataFrame, batch_id: int, ingested_at: datetime) -> DataFrame:
    """Rejected lines, verbatim, with the reason (partition column last)."""
    return classified.where(F.col("reason").isNotNull()).select(
        "raw_line",
        "reason",
        "source_file",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        F.lit(batch_id).cast("bigint").alias("ingest_batch_id"),
    )


# ---------------------------------------------------------------- sinks


@dataclass(frozen=True)
class Target:
    """A metastore table (``table``) or a Parquet directory (``path``)."""

    table: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.path is None):
            raise ValueError("give exactly one of a table name or a path")

    def ensure(self, spark: SparkSession, ddl: str, partitions: tuple[str, ...]) -> None:
        if self.table is None:
            return
        if "." in self.table:
            spark.sql(f"create database if not exists {self.table.rsplit('.', 1)[0]}")
        spark.sql(
            f"create table if not exists {self.table} ({ddl}) using parquet "
            f"partitioned by ({', '.join(partitions)})"
        )

    def overwrite_partitions(self, df: DataFrame, partitions: tuple[str, ...]) -> None:
        """Replaces exactly the partitions present in ``df`` (dynamic partition overwrite)."""
        df.sparkSession.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        if self.table is not None:
            # insertInto is positional: put the columns in the table's order, by name.
            columns = df.sparkSession.table(self.table).columns
            missing, extra = set(columns) - set(df.columns), set(df.columns) - set(columns)
            if missing or extra:
                raise IngestError(
                    f"table {self.table} does not match the ingest's columns "
                    f"(missing in the data: {sorted(missing)}, not in the table: {sorted(extra)})"
                    ": give another table or migrate this one"
                )
            df.select(*columns).write.insertInto(self.table, overwrite=True)
        else:
            df.write.mode("overwrite").partitionBy(*partitions).parquet(self.path)

    def read(self, spark: SparkSession) -> DataFrame:
        if self.table is not None:
            return spark.table(self.table)
        return spark.read.parquet(self.path)


@dataclass(frozen=True)
class IngestConfig:
    landing: str
    checkpoint: str
    bronze: Target
    quarantine: Target
    trigger: str = "available-now"
    source: str = "file"
    max_files_per_trigger: int | None = None
    max_bytes_per_trigger: int | None = None
    min_file_age_seconds: float = 0.0
    clean_source: str = "off"  # off | archive | delete (Spark's cleanSource)
    source_archive_dir: str | None = None
    kafka_bootstrap_servers: str | None = None
    kafka_topic: str | None = None
    kafka_starting_offsets: str = "earliest"
    pause_after_bronze_seconds: float = 0.0  # fault-injection hook for the restart test


def batch_writer(config: IngestConfig) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function: idempotent per batch id."""
    shown = progress.bar(desc="ingest", unit="batches")

    def write_batch(lines: DataFrame, batch_id: int) -> None:
        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        classified = lines.transform(classify_lines).persist()
        try:
            config.bronze.overwrite_partitions(
                to_bronze(classified, batch_id, ingested_at), BRONZE_PARTITIONS
            )
            log.info("batch %d: bronze written", batch_id)
            if config.pause_after_bronze_seconds:
                time.sleep(config.pause_after_bronze_seconds)
            config.quarantine.overwrite_partitions(
                to_quarantine(classified, batch_id, ingested_at), QUARANTINE_PARTITIONS
            )
            log.info("batch %d: quarantine written", batch_id)
            if not shown.disable:  # counting costs a pass: only on a terminal
                shown.set_postfix(lines=classified.count(), refresh=False)
            shown.update(1)
        finally:
            classified.unpersist()

    return write_batch


# ---------------------------------------------------------------- sources and the query


def glob_escape(name: str) -> str:
    """``name`` as a literal in a Hadoop glob (``pathGlobFilter``)."""
    return re.sub(r"([\\*?\[\]{},])", r"\\\1", name)


def eligible_files(landing: str, min_age_seconds: float, now: float | None = None) -> list[str]:
    """Names of the landed ``*.jsonl`` files (not hidden) last modified >= min_age ago."""
    cutoff = (time.time() if now is None else now) - min_age_seconds
    names = []
    with os.scandir(landing) as entries:
        for entry in entries:
            if entry.name.startswith((".", "_")) or not entry.name.endswith(".jsonl"):
                continue
            try:
                if entry.is_file() and entry.stat().st_mtime <= cutoff:
                    names.append(entry.name)
            except FileNotFoundError:  # archived or deleted meanwhile
                continue
    return sorted(names)


def landing_glob(config: IngestConfig) -> str:
    """``*.jsonl``, or with a minimum file age the explicit names old enough right now."""
    if not config.min_file_age_seconds:
        return LANDING_GLOB
    names = eligible_files(config.landing, config.min_file_age_seconds)
    if not names:
        return NO_ELIGIBLE_FILE
    return "{" + ",".join(glob_escape(name) for name in names) + "}"


def check_file_source_options(config: IngestConfig) -> None:
    """The file source's options, checked before Spark sees them (clear messages)."""
    landing = Path(config.landing)
    if not landing.is_dir():
        what = "is not a directory" if landing.exists() else "does not exist"
        raise IngestError(
            f"landing directory {landing.resolve()} {what}: create it (writers land "
            "name.jsonl files there by renaming them into place) or fix --landing"
        )
    globby = sorted(
        name
        for name in os.listdir(landing)
        if name.endswith(".jsonl") and not name.startswith((".", "_")) and GLOB_CHARS & set(name)
    )
    if globby:
        raise IngestError(
            f"landed file names with glob characters ({', '.join(globby[:5])}) in {landing}: "
            "Spark's file source re-globs them and reads other files of the batch twice. "
            "Rename them without * ? [ ] { } \\ (writers should use plain names)"
        )
    if config.max_files_per_trigger and config.max_bytes_per_trigger:
        raise IngestError("give --max-files-per-trigger or --max-bytes-per-trigger, not both")
    for name in ("max_files_per_trigger", "max_bytes_per_trigger"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise IngestError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if config.min_file_age_seconds < 0:
        raise IngestError(f"--min-file-age-seconds must be >= 0, got {config.min_file_age_seconds}")
    if config.clean_source not in CLEAN_SOURCE_MODES:
        raise IngestError(
            f"--clean-source {config.clean_source!r}: use one of {', '.join(CLEAN_SOURCE_MODES)}"
        )
    if config.clean_source == "archive":
        if not config.source_archive_dir:
            raise IngestError("--clean-source archive needs --source-archive-dir")
        archive, landed = Path(config.source_archive_dir).resolve(), landing.resolve()
        if archive == landed or landed in archive.parents or archive in landed.parents:
            raise IngestError(
                f"--source-archive-dir {archive} overlaps the landing directory {landed}: "
                "archive outside it"
            )
    elif config.source_archive_dir:
        raise IngestError("--source-archive-dir needs --clean-source archive")


def read_lines(spark: SparkSession, config: IngestConfig) -> DataFrame:
    """A streaming DataFrame of (raw_line, source_file)."""
    if config.source == "file":
        check_file_source_options(config)
        reader = spark.readStream.format("text").option("pathGlobFilter", landing_glob(config))
        if config.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", config.max_files_per_trigger)
        if config.max_bytes_per_trigger:
            reader = reader.option("maxBytesPerTrigger", config.max_bytes_per_trigger)
        if config.clean_source != "off":
            reader = reader.option("cleanSource", config.clean_source)
            if config.source_archive_dir:
                Path(config.source_archive_dir).mkdir(parents=True, exist_ok=True)
                archive = str(Path(config.source_archive_dir).resolve())
                reader = reader.option("sourceArchiveDir", archive)
        return reader.load(config.landing).select(
            F.col("value").alias("raw_line"), F.col("_metadata.file_path").alias("source_file")
        )
    if config.source == "kafka":
        if not (config.kafka_bootstrap_servers and config.kafka_topic):
            raise ValueError("--source kafka needs --kafka-bootstrap-servers and --kafka-topic")
        try:
            stream = (
                spark.readStream.format("kafka")
                .option("kafka.bootstrap.servers", config.kafka_bootstrap_servers)
                .option("subscribe", config.kafka_topic)
                .option("startingOffsets", config.kafka_starting_offsets)
                .load()
            )
        except AnalysisException as exc:
            if "kafka" in str(exc).lower():
                raise RuntimeError(KAFKA_HINT) from exc
            raise
        return stream.select(
            F.col("value").cast("string").alias("raw_line"),
            F.format_string("kafka:%s/%d@%d", "topic", "partition", "offset").alias("source_file"),
        )
    raise ValueError(f"unknown source {config.source!r} (file | kafka)")


def parse_trigger(trigger: str) -> dict:
    """'available-now' | 'processing-time=10s' -> DataStreamWriter.trigger kwargs."""
    if trigger == "available-now":
        return {"availableNow": True}
    if trigger.startswith("processing-time="):
        interval = trigger.split("=", 1)[1].strip()
        number = interval.rstrip("smh")
        unit = {"s": "seconds", "m": "minutes", "h": "hours"}.get(interval[len(number) :], "")
        if not number or not unit:
            raise ValueError(f"bad interval {interval!r}: use e.g. 10s, 1m")
        return {"processingTime": f"{number} {unit}"}
    raise ValueError(f"unknown trigger {trigger!r} (available-now | processing-time=10s)")


# ---------------------------------------------------------------- the checkpoint


def checkpoint_identity(config: IngestConfig) -> dict:
    """What a checkpoint belongs to: the source and the two targets."""
    if config.source == "kafka":
        source = {"kafka": f"{config.kafka_bootstrap_servers}/{config.kafka_topic}"}
    else:
        source = {"landing": Path(config.landing).resolve().as_uri()}
    return {
        "query": QUERY_NAME,
        **source,
        "bronze": config.bronze.table or Path(config.bronze.path or "").resolve().as_uri(),
        "quarantine": config.quarantine.table
        or Path(config.quarantine.path or "").resolve().as_uri(),
    }


def _checkpoint_error(checkpoint: Path, problem: str, fix: str) -> IngestError:
    return IngestError(f"checkpoint {checkpoint}: {problem}. Fix: {fix}")


CORRUPT_FIX = (
    "it cannot be read as a Structured Streaming checkpoint. If only the newest offsets/<n> "
    "file (one without commits/<n>) is damaged, by a crash while it was written, delete that "
    "file and its .crc and rerun (the batch is planned again). Otherwise move the checkpoint "
    "aside and start with a new --checkpoint together with new bronze/quarantine targets "
    "(batch ids restart at 0; reusing the targets would overwrite their batch partitions)"
)


def _log_entries(checkpoint: Path, path: Path) -> list:
    """The JSON entries of one checkpoint log file ('v<n>' header, then one JSON per line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _checkpoint_error(checkpoint, f"{path} is unreadable ({exc})", CORRUPT_FIX) from exc
    if not lines or not re.fullmatch(r"v\d+", lines[0].strip()):
        raise _checkpoint_error(
            checkpoint, f"{path} does not start with a log version line (v1)", CORRUPT_FIX
        )
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise _checkpoint_error(
                checkpoint, f"{path} line {number} is not JSON ({exc.msg})", CORRUPT_FIX
            ) from exc
    return entries


def _log_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
    )


def check_checkpoint(config: IngestConfig) -> None:
    """Stops with a clear message on a corrupt checkpoint or one written for another query,
    source or target; records what a new checkpoint belongs to (``ingest.json``)."""
    checkpoint = Path(config.checkpoint).resolve()
    identity = checkpoint_identity(config)
    marker = checkpoint / CHECKPOINT_MARKER
    if checkpoint.exists() and not checkpoint.is_dir():
        raise _checkpoint_error(checkpoint, "is not a directory", "give a directory")
    used = checkpoint.is_dir() and any(
        (checkpoint / name).exists() for name in ("metadata", "offsets", "commits", "sources")
    )
    if used:
        metadata = checkpoint / "metadata"
        try:
            query_id = json.loads(metadata.read_text(encoding="utf-8"))["id"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _checkpoint_error(
                checkpoint, f"{metadata} is missing or not valid ({exc})", CORRUPT_FIX
            ) from exc
        if marker.exists():
            try:
                recorded = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise _checkpoint_error(checkpoint, f"{marker} is not JSON", CORRUPT_FIX) from exc
            if recorded != identity:
                differ = {
                    key: (recorded.get(key), identity.get(key))
                    for key in sorted(set(recorded) | set(identity))
                    if recorded.get(key) != identity.get(key)
                }
                raise _checkpoint_error(
                    checkpoint,
                    f"it belongs to another query (query {query_id}); recorded vs now: {differ}",
                    "give this ingest its own --checkpoint (a checkpoint serves exactly one "
                    "source and one pair of targets); if you moved the landing directory or "
                    f"renamed a target on purpose, update {marker}",
                )
        for path in _log_files(checkpoint / "offsets"):
            sources = _log_entries(checkpoint, path)[1:]  # entry 0: batch metadata
            if len(sources) != 1:
                raise _checkpoint_error(
                    checkpoint,
                    f"{path} records {len(sources)} sources: written for another query",
                    "give this ingest its own --checkpoint",
                )
            is_file_offset = isinstance(sources[0], dict) and "logOffset" in sources[0]
            if is_file_offset != (config.source == "file"):
                raise _checkpoint_error(
                    checkpoint,
                    f"{path} holds the offset {json.dumps(sources[0])[:120]}, not one of a "
                    f"{config.source} source: written for another source",
                    "give this ingest its own --checkpoint",
                )
        for path in _log_files(checkpoint / "commits"):
            _log_entries(checkpoint, path)
        landing_uri = identity.get("landing")
        for path in _log_files(checkpoint / "sources" / "0") if landing_uri else []:
            entries = _log_entries(checkpoint, path)
            if marker.exists():
                continue
            foreign = [
                e.get("path")
                for e in entries
                if isinstance(e, dict)
                and not str(e.get("path", "")).startswith(landing_uri.rstrip("/") + "/")
            ]
            if foreign:
                raise _checkpoint_error(
                    checkpoint,
                    f"{path} lists {foreign[0]}, outside the landing directory {landing_uri}: "
                    "written for another landing directory",
                    "give this ingest its own --checkpoint",
                )
    checkpoint.mkdir(parents=True, exist_ok=True)
    if not used or not marker.exists():
        marker.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")


def start_ingest(spark: SparkSession, config: IngestConfig) -> StreamingQuery:
    lines = read_lines(spark, config)  # checks the landing directory and the source options
    check_checkpoint(config)
    config.bronze.ensure(spark, BRONZE_DDL, BRONZE_PARTITIONS)
    config.quarantine.ensure(spark, QUARANTINE_DDL, QUARANTINE_PARTITIONS)
    return (
        lines.writeStream.queryName(QUERY_NAME)
        .foreachBatch(batch_writer(config))
        .option("checkpointLocation", config.checkpoint)
        .trigger(**parse_trigger(config.trigger))
        .start()
    )


def trigger_seconds(trigger: str) -> float | None:
    """The interval of a processing-time trigger in seconds (None for available-now)."""
    kwargs = parse_trigger(trigger)
    if "processingTime" not in kwargs:
        return None
    number, unit = kwargs["processingTime"].split()
    return float(number) * {"seconds": 1, "minutes": 60, "hours": 3600}[unit]


def run_available_now(spark: SparkSession, config: IngestConfig) -> StreamingQuery:
    """One availableNow run to its end; a failed query raises with the checkpoint named."""
    query = start_ingest(spark, replace(config, trigger="available-now"))
    try:
        query.awaitTermination()
        failure = query.exception()
    except StreamingQueryException as exc:
        failure = exc
    if failure is not None:
        first_line = (str(failure).strip().splitlines() or [""])[0][:500]
        raise IngestError(
            f"ingest query failed (checkpoint {Path(config.checkpoint).resolve()}, "
            f"landing {config.landing}): {first_line}"
        ) from failure
    return query


def run_cycles(
    spark: SparkSession, config: IngestConfig, interval: float, timeout: float | None
) -> list[StreamingQuery]:
    """A processing-time trigger with a minimum file age: one availableNow run per interval,
    each with the landed files old enough at its start."""
    queries, deadline = [], None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        started = time.monotonic()
        queries.append(run_available_now(spark, config))
        pause = interval - (time.monotonic() - started)
        if deadline is not None:
            pause = min(pause, deadline - time.monotonic())
        if pause > 0:
            time.sleep(pause)
    return queries


def progress_summary(query: StreamingQuery | list[StreamingQuery]) -> dict:
    queries = query if isinstance(query, list) else [query]
    progress = [p for q in queries for p in q.recentProgress if p.get("numInputRows")]
    rows = sum(p["numInputRows"] for p in progress)
    seconds = sum(p["durationMs"].get("triggerExecution", 0) for p in progress) / 1000
    return {
        "batches": len(progress),
        "input_rows": rows,
        "batch_seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
    }


def add_file_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The backlog, landing-contract and clean-up flags (shared with the pipeline)."""
    backlog = parser.add_mutually_exclusive_group()
    backlog.add_argument("--max-files-per-trigger", type=int, default=None)
    backlog.add_argument("--max-bytes-per-trigger", type=int, default=None, help="soft limit")
    parser.add_argument(
        "--min-file-age-seconds",
        type=float,
        default=0.0,
        help="leave files modified less than this long ago for the next trigger (0 = off)",
    )
    parser.add_argument("--clean-source", choices=CLEAN_SOURCE_MODES, default="off")
    parser.add_argument("--source-archive-dir", help="with --clean-source archive")


def file_source_options(args: argparse.Namespace) -> dict:
    return {
        "max_files_per_trigger": args.max_files_per_trigger,
        "max_bytes_per_trigger": args.max_bytes_per_trigger,
        "min_file_age_seconds": args.min_file_age_seconds,
        "clean_source": args.clean_source,
        "source_archive_dir": args.source_archive_dir,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True, help="landing directory (file source)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory")
    bronze = parser.add_mutually_exclusive_group(required=True)
    bronze.add_argument("--bronze-table", help="metastore table, e.g. events.bronze_transactions")
    bronze.add_argument("--bronze-path", help="Parquet directory instead of a table")
    quarantine = parser.add_mutually_exclusive_group()
    quarantine.add_argument("--quarantine-table", help="default: events.quarantine_events")
    quarantine.add_argument("--quarantine-path", help="Parquet directory instead of a table")
    parser.add_argument("--trigger", default="available-now")
    parser.add_argument("--source", choices=("file", "kafka"), default="file")
    add_file_source_arguments(parser)
    parser.add_argument("--kafka-bootstrap-servers")
    parser.add_argument("--kafka-topic")
    parser.add_argument("--kafka-starting-offsets", default="earliest")
    parser.add_argument("--timeout-seconds", type=float, default=None, help="stop a continuous run")
    parser.add_argument("--pause-after-bronze-seconds", type=float, default=0.0, help="testing")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> IngestConfig:
    if args.bronze_path and not args.quarantine_path:
        raise SystemExit("--bronze-path needs --quarantine-path")
    quarantine = (
        Target(path=args.quarantine_path)
        if args.quarantine_path
        else Target(table=args.quarantine_table or "events.quarantine_events")
    )
    return IngestConfig(
        landing=args.landing,
        checkpoint=args.checkpoint,
        bronze=Target(table=args.bronze_table, path=args.bronze_path),
        quarantine=quarantine,
        trigger=args.trigger,
        source=args.source,
        **file_source_options(args),
        kafka_bootstrap_servers=args.kafka_bootstrap_servers,
        kafka_topic=args.kafka_topic,
        kafka_starting_offsets=args.kafka_starting_offsets,
        pause_after_bronze_seconds=args.pause_after_bronze_seconds,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    args = parse_args(argv)
    config = config_from_args(args)
    uses_metastore = config.bronze.table is not None or config.quarantine.table is not None
    spark = build_session("events-ingest", hive=uses_metastore)
    try:
        interval = trigger_seconds(config.trigger)
        if interval is not None and config.min_file_age_seconds and config.source == "file":
            query = run_cycles(spark, config, interval, args.timeout_seconds)
        elif interval is None:
            query = run_available_now(spark, config)
        else:
            query = start_ingest(spark, config)
            if args.timeout_seconds:
                query.awaitTermination(args.timeout_seconds)
                query.stop()
            else:
                query.awaitTermination()
    except (RuntimeError, ValueError) as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    print(json.dumps(progress_summary(query)))


if __name__ == "__main__":
    main()
