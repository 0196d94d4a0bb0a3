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
(``--bronze-path``: for a writer that must not hold the embedded Derby metastore).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StringType, StructField, StructType

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


def with_typed_fields(events: DataFrame) -> DataFrame:
    """Trimmed ids and try_cast values (null where missing or not castable)."""
    return events.select(
        "*",
        clean_text("raw_transaction_id").alias("transaction_id"),
        clean_text("raw_customer_id").alias("customer_id"),
        clean_text("raw_merchant_id").alias("merchant_id"),
        clean_text("raw_purchase_amount").try_cast("double").alias("purchase_amount"),
        clean_text("raw_event_time").try_cast("timestamp").alias("event_time"),
    )


def rejection_reason() -> Column:
    """First failing check, or null for a valid event (same reasons as stg_raw__transactions)."""
    amount = F.col("purchase_amount")
    return (
        F.when(
            F.col("corrupt_record").isNotNull() | clean_text("raw_line").isNull(), "malformed_row"
        )
        .when(F.col("transaction_id").isNull(), "missing_transaction_id")
        .when(F.col("customer_id").isNull(), "missing_customer_id")
        .when(F.col("merchant_id").isNull(), "missing_merchant_id")
        .when(clean_text("raw_purchase_amount").isNull(), "null_amount")
        .when(
            amount.isNull() | F.isnan(amount) | (F.abs(amount) == float("inf")),
            "non_numeric_amount",
        )
        .when(amount < 0, "negative_amount")
        .when(F.col("event_time").isNull(), "unparseable_event_time")
    )


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
            df.write.insertInto(self.table, overwrite=True)
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
    kafka_bootstrap_servers: str | None = None
    kafka_topic: str | None = None
    kafka_starting_offsets: str = "earliest"
    pause_after_bronze_seconds: float = 0.0  # fault-injection hook for the restart test


def batch_writer(config: IngestConfig) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function: idempotent per batch id."""

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
        finally:
            classified.unpersist()

    return write_batch


# ---------------------------------------------------------------- sources and the query


def read_lines(spark: SparkSession, config: IngestConfig) -> DataFrame:
    """A streaming DataFrame of (raw_line, source_file)."""
    if config.source == "file":
        reader = spark.readStream.format("text").option("pathGlobFilter", "*.jsonl")
        if config.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", config.max_files_per_trigger)
        Path(config.landing).mkdir(parents=True, exist_ok=True)
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


def start_ingest(spark: SparkSession, config: IngestConfig) -> StreamingQuery:
    config.bronze.ensure(spark, BRONZE_DDL, BRONZE_PARTITIONS)
    config.quarantine.ensure(spark, QUARANTINE_DDL, QUARANTINE_PARTITIONS)
    return (
        read_lines(spark, config)
        .writeStream.queryName("events_ingest")
        .foreachBatch(batch_writer(config))
        .option("checkpointLocation", config.checkpoint)
        .trigger(**parse_trigger(config.trigger))
        .start()
    )


def progress_summary(query: StreamingQuery) -> dict:
    progress = [p for p in query.recentProgress if p.get("numInputRows")]
    rows = sum(p["numInputRows"] for p in progress)
    seconds = sum(p["durationMs"].get("triggerExecution", 0) for p in progress) / 1000
    return {
        "batches": len(progress),
        "input_rows": rows,
        "batch_seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds else None,
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
    parser.add_argument("--max-files-per-trigger", type=int, default=None)
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
        max_files_per_trigger=args.max_files_per_trigger,
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
        query = start_ingest(spark, config)
    except RuntimeError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    if args.timeout_seconds:
        query.awaitTermination(args.timeout_seconds)
        query.stop()
    else:
        query.awaitTermination()
    print(json.dumps(progress_summary(query)))


if __name__ == "__main__":
    main()
