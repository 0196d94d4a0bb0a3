"""Data for ML tests and benchmarks, without dbt.

* ``generated_inputs``: the generator's valid rows shaped like the marts (``fct_purchases``,
  ``dim_customers``, ``merchant_categories``), so feature/label functions run on realistic data.
* ``random_features``: a feature + label table of any size straight from ``spark.range`` (no
  transactions), for timing the training on e.g. 1M customers.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_analytics.datagen.entities import CATEGORIES
from spark_analytics.datagen.world import (
    DatagenConfig,
    build_world,
    iter_customer_tables,
    iter_transaction_chunks,
    merchants_table,
)
from spark_analytics.ml.features import (
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    SNAPSHOT_TEST,
    SNAPSHOT_TRAIN,
)


class MartInputs(NamedTuple):
    purchases: DataFrame
    customers: DataFrame
    categories: DataFrame


def generated_inputs(spark: SparkSession, config: DatagenConfig) -> MartInputs:
    """The generator's valid transactions as ``fct_purchases``-like rows, plus customers and
    categories. Pandas in the driver: meant for test-sized data (up to ~1M rows)."""
    world = build_world(config)
    merchants = merchants_table(world).select(["merchant_id", "category_code"]).to_pandas()
    transactions = pd.concat(list(iter_transaction_chunks(config)), ignore_index=True)
    purchases = (
        spark.createDataFrame(transactions.merge(merchants, on="merchant_id", how="left"))
        .withColumn("purchase_amount", F.col("purchase_amount").cast("decimal(18,2)"))
        .withColumn("event_time", F.col("event_time").cast("timestamp"))
        .withColumn("purchase_date", F.to_date("event_time"))
    )
    customer_frames = [t.to_pandas() for t in iter_customer_tables(world, 1_000_000)]
    customers = spark.createDataFrame(
        pd.concat(customer_frames, ignore_index=True)[["customer_id", "signup_date"]]
    ).withColumn("signup_date", F.to_date("signup_date"))
    categories = spark.createDataFrame(
        [(c.code, c.name, c.is_discretionary) for c in CATEGORIES],
        "category_code string, category_name string, is_discretionary boolean",
    )
    return MartInputs(purchases, customers, categories)


def _sigmoid(x: Column) -> Column:
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-x))


def random_features(
    spark: SparkSession, customers: int, seed: int = 42, partitions: int = 4
) -> tuple[DataFrame, DataFrame]:
    """(features, labels) for ``customers`` customers in each of the train and test snapshots.

    Plausible, correlated values (active customers buy more, more recently, and buy again); the
    label depends on activity and recency through a logistic link, so the fit has a signal.
    """
    frames = []
    for offset, (snapshot, as_of) in enumerate(
        ((SNAPSHOT_TRAIN, "2026-05-02"), (SNAPSHOT_TEST, "2026-06-01"))
    ):
        s = seed + 100 * offset
        base = spark.range(0, customers, 1, partitions).select(
            F.lit(snapshot).alias("snapshot"),
            F.lit(as_of).cast("date").alias("as_of_date"),
            F.format_string("c%07d", F.col("id") + 1).alias("customer_id"),
            F.exp(F.randn(s)).alias("activity"),
            F.rand(s + 1).alias("u1"),
            F.rand(s + 2).alias("u2"),
            F.rand(s + 3).alias("u3"),
            F.exp(F.lit(5.0) + F.randn(s + 4) * 0.5).alias("avg_amount"),
            F.rand(s + 5).alias("u5"),
        )
        counts = base.select(
            "*",
            F.greatest(F.lit(1), F.round(F.col("activity") * 20 * F.col("u1")).cast("int")).alias(
                "purchase_count"
            ),
            (F.lit(1) + F.floor(F.col("u2") * 60 / F.col("activity")))
            .cast("int")
            .alias("recency_days"),
        ).withColumn(
            "purchase_count_90d", F.round(F.col("purchase_count") * 0.5 * F.col("u3")).cast("int")
        )
        features = counts.select(
            *KEY_COLUMNS,
            "recency_days",
            (F.lit(30) + F.floor(F.col("u5") * 700)).cast("int").alias("tenure_days"),
            F.col("purchase_count").cast("bigint").alias("purchase_count"),
            F.round(F.col("purchase_count_90d") * 0.33).cast("bigint").alias("purchase_count_30d"),
            F.col("purchase_count_90d").cast("bigint").alias("purchase_count_90d"),
            (F.col("avg_amount") * F.col("purchase_count")).alias("total_spend"),
            (F.col("avg_amount") * F.col("purchase_count_90d")).alias("spend_90d"),
            "avg_amount",
            (F.col("avg_amount") * (F.lit(1) + 3 * F.col("u1"))).alias("max_amount"),
            (F.col("u2") * 0.2).alias("high_value_share"),
            F.col("u3").alias("discretionary_share"),
            (
                F.rand(s + 6)
                < _sigmoid(F.log(F.col("activity")) * 1.5 - F.col("recency_days") * 0.02 + 0.5)
            )
            .cast("int")
            .alias("label"),
        )
        frames.append(features)
    both = frames[0].unionByName(frames[1])
    return (
        both.select(*KEY_COLUMNS, *FEATURE_COLUMNS),
        both.select("snapshot", "as_of_date", "customer_id", "label"),
    )
