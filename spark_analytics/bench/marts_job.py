"""The marts path as ONE hand-written PySpark job, to benchmark against ``dbt run``.

    python -m spark_analytics.bench.marts_job --data data/generated --out /tmp/marts \
        [--transactions-format csv|json|parquet]

It reads the generator's files (``DIR/transactions/<format>``, ``DIR/customers``,
``DIR/merchants``) the way ``macros/register_external_sources.sql`` registers them and writes,
as Parquet under ``OUT/<table>`` (overwrite), the tables the dbt models build: ``fct_purchases``
(partitioned by ``purchase_month``, like the model), ``rpt_sales_by_segment``, ``dim_customers``,
``dim_merchants`` and the three ``quarantine_*`` tables, with the same columns, order and types.

Owns nothing but the DataFrame spelling of the models' rules: staging (``stg_raw__*``),
intermediate (``int_*``), quarantine and marts, each step a pure ``DataFrame -> DataFrame``
function named after its model. The rules themselves stay where they are: the rejection-reason
order and the segment thresholds are read from ``dbt_project.yml`` (``spark_analytics.contracts``),
the categories from the seed file, the Spark settings from ``spark_analytics.settings``.
``tests/python/test_bench_marts_job.py`` checks every table against dbt's on the same files.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_analytics.bench.path import OUTPUT_TABLES
from spark_analytics.contracts import dbt_var, project_file, rejection_reasons
from spark_analytics.session import build_session

FORMATS = ("csv", "json", "parquet")
CORRUPT = "_corrupt_record"
AMOUNT = DecimalType(18, 2)
# Declared columns of models/staging/raw/_raw__sources.yml (all strings: casting is staging's).
SOURCE_COLUMNS = {
    "transactions": (
        "transaction_id",
        "customer_id",
        "merchant_id",
        "purchase_amount",
        "event_time",
    ),
    "customers": ("customer_id", "customer_name", "email", "country", "signup_date"),
    "merchants": ("merchant_id", "merchant_name", "category_code", "country"),
}
SEED = Path("seeds") / "merchant_categories.csv"
SEED_SCHEMA = StructType(
    [
        StructField("category_code", StringType()),
        StructField("category_name", StringType()),
        StructField("is_discretionary", BooleanType()),
    ]
)
TABLES = OUTPUT_TABLES
PARTITION_BY = {"fct_purchases": ("purchase_month",)}


# ---------------------------------------------------------------- sources and seed


def read_source(spark: SparkSession, location: str, file_format: str, entity: str) -> DataFrame:
    """A source as staging sees it: its declared columns as strings plus ``_corrupt_record``.

    CSV (with header) and JSON lines are read PERMISSIVE with the declared schema, so malformed
    lines land in ``_corrupt_record``; Parquet is read with its own schema, cast to strings and
    given a null ``_corrupt_record`` (register_external_sources.sql).
    """
    columns = SOURCE_COLUMNS[entity]
    if file_format == "parquet":
        files = spark.read.parquet(location)
        return files.select(
            *[F.col(name).cast(StringType()).alias(name) for name in columns],
            F.lit(None).cast(StringType()).alias(CORRUPT),
        )
    schema = StructType([StructField(name, StringType()) for name in (*columns, CORRUPT)])
    reader = spark.read.schema(schema).options(mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
    if file_format == "csv":
        return reader.option("header", "true").csv(location)
    if file_format == "json":
        return reader.json(location)
    raise ValueError(f"format {file_format!r} is not one of {FORMATS}")


def read_categories(spark: SparkSession) -> DataFrame:
    """The ``merchant_categories`` seed, typed as its ``column_types`` (seeds/_seeds.yml)."""
    with (project_file().parent / SEED).open(newline="", encoding="utf-8") as handle:
        rows = [
            (row["category_code"], row["category_name"], row["is_discretionary"] == "true")
            for row in csv.DictReader(handle)
        ]
    return spark.createDataFrame(rows, SEED_SCHEMA)


# ---------------------------------------------------------------- shared rules (macros)


def first_failing_check(
    entity: str, stages: Sequence[str], conditions: Mapping[str, Column]
) -> Column:
    """``macros/rejection_reasons.sql``: a ``when`` chain in the contract's order, else null."""
    order = rejection_reasons(entity, stages)
    if not order or set(order) != set(conditions):
        raise ValueError(
            f"checks {sorted(conditions)} for {entity} {list(stages)} differ from the contract "
            f"(var rejection_reasons in dbt_project.yml): {list(order)}"
        )
    return reduce(
        lambda chain, reason: chain.when(conditions[reason], reason),
        order[1:],
        F.when(conditions[order[0]], order[0]),
    )


def threshold(var_name: str) -> Column:
    """A threshold var as the SQL literal ``validated_number`` renders (int, or exact decimal)."""
    text = str(dbt_var(var_name)).strip()
    return F.lit(int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else Decimal(text))


def purchase_segment(amount: Column) -> Column:
    """``macros/purchase_segment.sql``: strictly greater than each threshold; null has none."""
    return (
        F.when(amount.isNull(), F.lit(None).cast(StringType()))
        .when(amount > threshold("high_value_threshold"), "High Value")
        .when(amount > threshold("medium_value_threshold"), "Medium Value")
        .otherwise("Low Value")
    )


def clean_id(column: str) -> Column:
    return F.nullif(F.trim(F.col(column)), F.lit(""))


def count_of(column: str) -> Column:
    """``count(*) over (partition by column)``."""
    return F.count(F.lit(1)).over(Window.partitionBy(column))


# ---------------------------------------------------------------- staging


def stg_raw__transactions(source: DataFrame) -> DataFrame:
    typed = source.select(
        clean_id("transaction_id").alias("transaction_id"),
        clean_id("customer_id").alias("customer_id"),
        clean_id("merchant_id").alias("merchant_id"),
        F.trim("purchase_amount").try_cast(AMOUNT).alias("purchase_amount"),
        F.trim("event_time").try_cast(TimestampType()).alias("event_time"),
        F.col("purchase_amount").alias("raw_purchase_amount"),
        F.col("event_time").alias("raw_event_time"),
        F.col(CORRUPT).alias("raw_record"),
    )
    checks = {
        "malformed_row": F.col("raw_record").isNotNull(),
        "missing_transaction_id": F.col("transaction_id").isNull(),
        "missing_customer_id": F.col("customer_id").isNull(),
        "missing_merchant_id": F.col("merchant_id").isNull(),
        "null_amount": clean_id("raw_purchase_amount").isNull(),
        "non_numeric_amount": F.col("purchase_amount").isNull(),
        "negative_amount": F.col("purchase_amount") < 0,
        "unparseable_event_time": F.col("event_time").isNull(),
    }
    return typed.withColumn(
        "rejection_reason", first_failing_check("transactions", ["row"], checks)
    )


def stg_raw__customers(source: DataFrame) -> DataFrame:
    typed = source.select(
        clean_id("customer_id").alias("customer_id"),
        F.trim("customer_name").alias("customer_name"),
        F.lower(F.trim("email")).alias("email"),
        F.upper(F.trim("country")).alias("country_code"),
        F.trim("signup_date").try_cast(DateType()).alias("signup_date"),
        F.col(CORRUPT).alias("raw_record"),
    )
    checks = {
        "malformed_row": F.col("raw_record").isNotNull(),
        "missing_customer_id": F.col("customer_id").isNull(),
        "duplicate_customer_id": count_of("customer_id") > 1,
    }
    reason = first_failing_check("customers", ["row", "dedup"], checks)
    return typed.withColumn("rejection_reason", reason)


def stg_raw__merchants(source: DataFrame) -> DataFrame:
    typed = source.select(
        clean_id("merchant_id").alias("merchant_id"),
        F.col("merchant_name"),
        F.upper(F.trim("category_code")).alias("category_code"),
        F.upper(F.trim("country")).alias("country_code"),
        F.col(CORRUPT).alias("raw_record"),
    )
    checks = {
        "malformed_row": F.col("raw_record").isNotNull(),
        "missing_merchant_id": F.col("merchant_id").isNull(),
        "duplicate_merchant_id": count_of("merchant_id") > 1,
    }
    reason = first_failing_check("merchants", ["row", "dedup"], checks)
    return typed.withColumn("rejection_reason", reason)


# ---------------------------------------------------------------- intermediate


def int_customers_accepted(staged: DataFrame) -> DataFrame:
    return staged.where(F.col("rejection_reason").isNull()).select(
        "customer_id", "customer_name", "email", "country_code", "signup_date"
    )


def int_merchants_accepted(staged: DataFrame) -> DataFrame:
    return staged.where(F.col("rejection_reason").isNull()).select(
        "merchant_id", "merchant_name", "category_code", "country_code"
    )


def int_transactions_validated(
    staged: DataFrame, merchants: DataFrame, customers: DataFrame
) -> DataFrame:
    """Reference checks against the accepted entities, then the earliest valid copy of an id."""
    known_merchants = merchants.select(F.col("merchant_id").alias("known_merchant_id"))
    known_customers = customers.select(F.col("customer_id").alias("known_customer_id"))
    with_references = (
        staged.withColumnRenamed("rejection_reason", "row_rejection_reason")
        .join(
            F.broadcast(known_merchants), F.col("merchant_id") == F.col("known_merchant_id"), "left"
        )
        .join(
            F.broadcast(known_customers), F.col("customer_id") == F.col("known_customer_id"), "left"
        )
    )
    reference_checks = {
        "unknown_merchant_id": F.col("known_merchant_id").isNull(),
        "unknown_customer_id": F.col("known_customer_id").isNull(),
    }
    reference_reason = F.coalesce(
        F.col("row_rejection_reason"),
        first_failing_check("transactions", ["reference"], reference_checks),
    )
    passed = F.col("reference_rejection_reason").isNull()
    # Among otherwise valid rows the earliest occurrence of an id is kept, later copies rejected.
    earliest_first = Window.partitionBy(F.col("transaction_id"), passed).orderBy(
        "event_time", "purchase_amount", "customer_id", "merchant_id"
    )
    dedup_checks = {"duplicate_transaction_id": F.col("occurrence_number") > 1}
    return (
        with_references.withColumn("reference_rejection_reason", reference_reason)
        .withColumn("occurrence_number", F.when(passed, F.row_number().over(earliest_first)))
        .select(
            "transaction_id",
            "customer_id",
            "merchant_id",
            "purchase_amount",
            "event_time",
            "raw_purchase_amount",
            "raw_event_time",
            "raw_record",
            F.coalesce(
                F.col("reference_rejection_reason"),
                first_failing_check("transactions", ["dedup"], dedup_checks),
            ).alias("rejection_reason"),
        )
    )


def int_purchases_segmented(validated: DataFrame) -> DataFrame:
    return (
        validated.where(F.col("rejection_reason").isNull())
        .select("transaction_id", "customer_id", "merchant_id", "purchase_amount", "event_time")
        .withColumn("purchase_segment", purchase_segment(F.col("purchase_amount")))
    )


# ---------------------------------------------------------------- quarantine


def quarantined(source_relation: str, columns: Sequence[str]) -> Callable[[DataFrame], DataFrame]:
    """``quarantine_<entity>s``: every rejected row, its reason and the given columns."""

    def select(rows: DataFrame) -> DataFrame:
        return rows.where(F.col("rejection_reason").isNotNull()).select(
            F.lit(source_relation).alias("source_relation"), "rejection_reason", *columns
        )

    return select


quarantine_transactions = quarantined(
    "raw.transactions",
    (
        "transaction_id",
        "customer_id",
        "merchant_id",
        "raw_purchase_amount",
        "raw_event_time",
        "raw_record",
    ),
)
quarantine_customers = quarantined(
    "raw.customers",
    ("customer_id", "customer_name", "email", "country_code", "signup_date", "raw_record"),
)
quarantine_merchants = quarantined(
    "raw.merchants", ("merchant_id", "merchant_name", "category_code", "country_code", "raw_record")
)


# ---------------------------------------------------------------- marts


def fct_purchases(purchases: DataFrame, merchants: DataFrame, categories: DataFrame) -> DataFrame:
    return (
        purchases.alias("p")
        .join(F.broadcast(merchants.alias("m")), F.col("p.merchant_id") == F.col("m.merchant_id"))
        .join(
            F.broadcast(categories.alias("c")),
            F.col("m.category_code") == F.col("c.category_code"),
            "left",
        )
        .select(
            "p.transaction_id",
            "p.customer_id",
            "p.merchant_id",
            "m.category_code",
            "c.category_name",
            "p.purchase_amount",
            "p.purchase_segment",
            "p.event_time",
            F.col("p.event_time").cast(DateType()).alias("purchase_date"),
            F.date_format("p.event_time", "yyyy-MM").alias("purchase_month"),
        )
    )


def rpt_sales_by_segment(purchases: DataFrame) -> DataFrame:
    return purchases.groupBy("purchase_segment").agg(
        F.count(F.lit(1)).alias("transaction_count"),
        F.count_distinct("customer_id").alias("customer_count"),
        F.avg("purchase_amount").alias("avg_purchase"),
        F.sum("purchase_amount").alias("total_sales"),
        F.min("purchase_amount").alias("min_purchase"),
        F.max("purchase_amount").alias("max_purchase"),
    )


def dim_customers(customers: DataFrame, purchases: DataFrame) -> DataFrame:
    """Every accepted customer; recency is measured from the last purchase date in the data."""
    as_of = purchases.agg(F.max("purchase_date").alias("as_of_date"))
    customer_purchases = purchases.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("purchase_count"),
        F.sum("purchase_amount").alias("lifetime_spend"),
        F.avg("purchase_amount").alias("avg_purchase"),
        F.min("event_time").alias("first_purchase_at"),
        F.max("event_time").alias("last_purchase_at"),
    )
    return (
        customers.join(customer_purchases, "customer_id", "left")
        .crossJoin(as_of)
        .select(
            "customer_id",
            "customer_name",
            "country_code",
            "signup_date",
            F.coalesce("purchase_count", F.lit(0)).alias("purchase_count"),
            F.coalesce("lifetime_spend", F.lit(0)).alias("lifetime_spend"),
            "avg_purchase",
            "first_purchase_at",
            "last_purchase_at",
            F.datediff("as_of_date", F.col("last_purchase_at").cast(DateType())).alias(
                "recency_days"
            ),
            purchase_segment(F.col("avg_purchase")).alias("customer_segment"),
        )
    )


def dim_merchants(merchants: DataFrame, purchases: DataFrame, categories: DataFrame) -> DataFrame:
    # `case when ... then 1.0 else 0.0 end`: SQL's 1.0 is decimal(2, 1), and so its average.
    high_value = F.when(F.col("purchase_segment") == "High Value", F.lit(Decimal("1.0")))
    merchant_sales = purchases.groupBy("merchant_id").agg(
        F.count(F.lit(1)).alias("transaction_count"),
        F.count_distinct("customer_id").alias("customer_count"),
        F.sum("purchase_amount").alias("total_sales"),
        F.avg("purchase_amount").alias("avg_purchase"),
        F.avg(high_value.otherwise(F.lit(Decimal("0.0")))).alias("high_value_share"),
    )
    return (
        merchants.join(merchant_sales, "merchant_id", "left")
        .join(
            F.broadcast(categories.select("category_code", "category_name")),
            "category_code",
            "left",
        )
        .select(
            "merchant_id",
            "merchant_name",
            "category_code",
            "category_name",
            "country_code",
            F.coalesce("transaction_count", F.lit(0)).alias("transaction_count"),
            F.coalesce("customer_count", F.lit(0)).alias("customer_count"),
            F.coalesce("total_sales", F.lit(0)).alias("total_sales"),
            "avg_purchase",
            "high_value_share",
        )
    )


# ---------------------------------------------------------------- the job


def source_location(data_dir: str, entity: str, transactions_format: str) -> str:
    """The sources' default locations under the generator's output directory."""
    base = str(data_dir).rstrip("/")
    if entity == "transactions":
        return f"{base}/transactions/{transactions_format}"
    return f"{base}/{entity}"


def build_tables(
    spark: SparkSession, data_dir: str | os.PathLike[str], transactions_format: str = "csv"
) -> tuple[dict[str, DataFrame], list[DataFrame]]:
    """The seven output tables (lazy) and the shared intermediates it caches for them.

    What several tables read is cached, as dbt materializes it once: staged customers and
    merchants, the validated transactions (``meta.cache`` in dbt) and ``fct_purchases``.
    """
    if transactions_format not in FORMATS:
        raise ValueError(f"transactions format {transactions_format!r} is not one of {FORMATS}")
    data = str(data_dir)

    def source(entity: str, file_format: str) -> DataFrame:
        location = source_location(data, entity, transactions_format)
        return read_source(spark, location, file_format, entity)

    categories = read_categories(spark)
    staged_customers = source("customers", "json").transform(stg_raw__customers).cache()
    staged_merchants = source("merchants", "parquet").transform(stg_raw__merchants).cache()
    customers = staged_customers.transform(int_customers_accepted)
    merchants = staged_merchants.transform(int_merchants_accepted)
    validated = (
        source("transactions", transactions_format)
        .transform(stg_raw__transactions)
        .transform(int_transactions_validated, merchants, customers)
        .cache()
    )
    purchases = (
        validated.transform(int_purchases_segmented)
        .transform(fct_purchases, merchants, categories)
        .cache()
    )
    tables = {
        "fct_purchases": purchases,
        "rpt_sales_by_segment": purchases.transform(rpt_sales_by_segment),
        "dim_customers": customers.transform(dim_customers, purchases),
        "dim_merchants": merchants.transform(dim_merchants, purchases, categories),
        "quarantine_transactions": validated.transform(quarantine_transactions),
        "quarantine_customers": staged_customers.transform(quarantine_customers),
        "quarantine_merchants": staged_merchants.transform(quarantine_merchants),
    }
    return tables, [staged_customers, staged_merchants, validated, purchases]


def write_table(table: DataFrame, path: str, partition_by: Sequence[str] = ()) -> None:
    """Parquet, overwritten; a partitioned table is repartitioned by its partition columns first."""
    if partition_by:
        table = table.repartition(*partition_by)
    writer = table.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(path)


def run_job(
    spark: SparkSession,
    data_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    transactions_format: str = "csv",
) -> None:
    """Reads the files under ``data_dir`` and writes the seven tables to ``out_dir/<table>``."""
    tables, cached = build_tables(spark, data_dir, transactions_format)
    out = str(out_dir).rstrip("/")
    try:
        for name in TABLES:
            write_table(tables[name], f"{out}/{name}", PARTITION_BY.get(name, ()))
    finally:
        for frame in cached:
            frame.unpersist()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m spark_analytics.bench.marts_job", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, help="the generator's output dir (data/generated)")
    parser.add_argument("--out", required=True, help="output dir: one Parquet dir per table")
    parser.add_argument("--transactions-format", choices=FORMATS, default="csv")
    args = parser.parse_args(argv)
    spark = build_session("marts-job", hive=False)
    try:
        run_job(spark, args.data, args.out, args.transactions_format)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
