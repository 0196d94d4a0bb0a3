"""ML feature and label functions on inline data (expected values worked out by hand)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.ml.features import (
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    MODEL_INPUT_COLUMNS,
    customer_features,
    snapshot_dates,
    with_model_inputs,
)
from spark_analytics.ml.labels import customer_labels

PURCHASE_SCHEMA = (
    "customer_id string, category_code string, purchase_amount decimal(18,2), "
    "event_time timestamp, purchase_date date"
)
FEATURE_SCHEMA = (
    "snapshot string, as_of_date date, customer_id string, recency_days int, tenure_days int, "
    "purchase_count bigint, purchase_count_30d bigint, purchase_count_90d bigint, "
    "total_spend double, spend_90d double, avg_amount double, max_amount double, "
    "high_value_share double, discretionary_share double"
)
D = dt.date


def purchases_df(spark: SparkSession, rows: list[tuple[str, str, str, dt.date]]) -> DataFrame:
    """Rows (customer_id, category_code, amount, date) as fct_purchases-like rows (noon UTC)."""
    return spark.createDataFrame(
        [
            (c, cat, Decimal(amount), dt.datetime.combine(day, dt.time(12)), day)
            for c, cat, amount, day in rows
        ],
        PURCHASE_SCHEMA,
    )


HISTORY = [
    ("c1", "GROC", "10.00", D(2025, 12, 20)),  # more than 90 days before 2026-04-01
    ("c1", "GROC", "100.00", D(2026, 1, 10)),
    ("c1", "TRVL", "1500.00", D(2026, 3, 15)),
    ("c1", "GROC", "50.00", D(2026, 3, 31)),
    ("c2", "XXXX", "300.00", D(2026, 2, 1)),  # unknown category: not discretionary
]
FUTURE = [  # on or after 2026-04-01
    ("c1", "TRVL", "2000.00", D(2026, 4, 1)),
    ("c2", "TRVL", "5.00", D(2026, 4, 3)),
    ("c3", "GROC", "20.00", D(2026, 4, 5)),
]


@pytest.fixture(scope="module")
def categories(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [("GROC", "Groceries", False), ("TRVL", "Travel", True)],
        "category_code string, category_name string, is_discretionary boolean",
    )


@pytest.fixture(scope="module")
def customers(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [("c1", D(2025, 12, 1)), ("c2", None), ("c3", D(2026, 4, 1))],
        "customer_id string, signup_date date",
    )


def one_snapshot(spark: SparkSession, as_of: dt.date) -> DataFrame:
    return spark.createDataFrame(
        [("test", as_of, as_of + dt.timedelta(days=30))],
        "snapshot string, as_of_date date, label_window_end date",
    )


def test_customer_features_by_hand(
    spark: SparkSession, categories: DataFrame, customers: DataFrame
) -> None:
    as_of = D(2026, 4, 1)
    actual = customer_features(
        purchases_df(spark, HISTORY + FUTURE), one_snapshot(spark, as_of), categories, customers
    )
    expected = spark.createDataFrame(
        [
            # recency 1 (last 03-31), tenure from signup 2025-12-01 = 121 days, 4 purchases,
            # 2 in the 30 days from 03-02, 3 in the 90 days from 2026-01-01.
            ("test", as_of, "c1", 1, 121, 4, 2, 3, 1660.0, 1650.0, 415.0, 1500.0, 0.25, 0.25),
            # no signup date: tenure from the first purchase (02-01) = 59 days.
            ("test", as_of, "c2", 59, 59, 1, 0, 1, 300.0, 300.0, 300.0, 300.0, 0.0, 0.0),
            # c3 has no purchase before 2026-04-01: no row.
        ],
        FEATURE_SCHEMA,
    )
    assertDataFrameEqual(actual, expected)


def test_features_ignore_events_on_or_after_the_snapshot_date(
    spark: SparkSession, categories: DataFrame, customers: DataFrame
) -> None:
    snapshot = one_snapshot(spark, D(2026, 4, 1))
    history_only = customer_features(purchases_df(spark, HISTORY), snapshot, categories, customers)
    with_future = customer_features(
        purchases_df(spark, HISTORY + FUTURE), snapshot, categories, customers
    )
    assertDataFrameEqual(with_future, history_only)


def test_train_and_test_features_unchanged_by_post_cutoff_data(
    spark: SparkSession, categories: DataFrame, customers: DataFrame
) -> None:
    """With a fixed cut-off, more data after it changes only the score snapshot and labels."""

    def build(rows: list[tuple[str, str, str, dt.date]]) -> tuple[DataFrame, DataFrame]:
        purchases = purchases_df(spark, rows)
        snapshots = snapshot_dates(purchases, cutoff_date="2026-04-01")
        features = customer_features(purchases, snapshots, categories, customers)
        return features, customer_labels(features, purchases, snapshots)

    before, labels_before = build(HISTORY)
    after, labels_after = build(HISTORY + FUTURE)
    fitted = F.col("snapshot").isin("train", "test")
    assertDataFrameEqual(after.where(fitted), before.where(fitted))
    assert after.where(~fitted).count() == 3 > before.where(~fitted).count()
    # Train labels look at [03-02, 04-01) only; test labels at [04-01, 05-01), where FUTURE adds
    # c1's 2000 on 04-01 and c2's 5 on 04-03.
    train = F.col("snapshot") == "train"
    assertDataFrameEqual(labels_after.where(train), labels_before.where(train))
    test_counts = "snapshot = 'test'"
    columns = ("customer_id", "purchases_in_window", "label", "label_high_value")
    expected_before = spark.createDataFrame(
        [("c1", 0, 0, 0), ("c2", 0, 0, 0)],
        "customer_id string, purchases_in_window bigint, label int, label_high_value int",
    )
    expected_after = spark.createDataFrame(
        [("c1", 1, 1, 1), ("c2", 1, 1, 0)],
        "customer_id string, purchases_in_window bigint, label int, label_high_value int",
    )
    assertDataFrameEqual(labels_before.where(test_counts).select(*columns), expected_before)
    assertDataFrameEqual(labels_after.where(test_counts).select(*columns), expected_after)


def test_snapshot_dates_default_cutoff_is_last_horizon_days(spark: SparkSession) -> None:
    purchases = purchases_df(spark, HISTORY + FUTURE)  # last event 2026-04-05
    expected = spark.createDataFrame(
        [
            ("train", D(2026, 2, 5), D(2026, 3, 7), D(2026, 3, 7), D(2026, 4, 5)),
            ("test", D(2026, 3, 7), D(2026, 4, 6), D(2026, 3, 7), D(2026, 4, 5)),
            ("score", D(2026, 4, 6), None, D(2026, 3, 7), D(2026, 4, 5)),
        ],
        "snapshot string, as_of_date date, label_window_end date, cutoff_date date, "
        "last_event_date date",
    )
    assertDataFrameEqual(snapshot_dates(purchases), expected)
    explicit = snapshot_dates(purchases, cutoff_date=D(2026, 3, 1), horizon_days=7)
    assertDataFrameEqual(
        explicit.select("snapshot", "as_of_date"),
        spark.createDataFrame(
            [("train", D(2026, 2, 22)), ("test", D(2026, 3, 1)), ("score", D(2026, 4, 6))],
            "snapshot string, as_of_date date",
        ),
    )


def test_snapshot_dates_rejects_bad_arguments(spark: SparkSession) -> None:
    purchases = purchases_df(spark, HISTORY)
    with pytest.raises(ValueError, match="ml_cutoff_date must be a date"):
        snapshot_dates(purchases, cutoff_date="01/04/2026")
    with pytest.raises(ValueError, match="horizon_days must be >= 1"):
        snapshot_dates(purchases, horizon_days=0)


def test_labels_count_only_the_window_after_each_snapshot(
    spark: SparkSession, categories: DataFrame, customers: DataFrame
) -> None:
    purchases = purchases_df(spark, HISTORY + FUTURE)
    snapshots = snapshot_dates(purchases, cutoff_date="2026-04-01")  # train as of 2026-03-02
    features = customer_features(purchases, snapshots, categories, customers)
    expected = spark.createDataFrame(
        [
            # train window [03-02, 04-01): c1 bought on 03-15 (1500, High Value) and 03-31.
            ("train", D(2026, 3, 2), "c1", D(2026, 4, 1), 2, 1, 1),
            ("train", D(2026, 3, 2), "c2", D(2026, 4, 1), 0, 0, 0),
            # test window [04-01, 05-01): c1 2000 on 04-01, c2 5 on 04-03; c3 has no features.
            ("test", D(2026, 4, 1), "c1", D(2026, 5, 1), 1, 1, 1),
            ("test", D(2026, 4, 1), "c2", D(2026, 5, 1), 1, 1, 0),
        ],
        "snapshot string, as_of_date date, customer_id string, label_window_end date, "
        "purchases_in_window bigint, label int, label_high_value int",
    )
    assertDataFrameEqual(customer_labels(features, purchases, snapshots), expected)


def test_model_inputs_are_log1p_of_skewed_features(spark: SparkSession) -> None:
    values = (1, 121, 4, 2, 3, 1660.0, 1650.0, 415.0, 1500.0, 0.25, 0.5)
    row = dict(zip(FEATURE_COLUMNS, values, strict=True))
    features = spark.createDataFrame([("test", D(2026, 4, 1), "c1", *row.values())], FEATURE_SCHEMA)
    expected = spark.createDataFrame(
        [
            tuple(
                math.log1p(row[column.removeprefix("log_")])
                if column.startswith("log_")
                else row[column]
                for column in MODEL_INPUT_COLUMNS
            )
        ],
        with_model_inputs(features).select(*MODEL_INPUT_COLUMNS).schema,
    )
    assertDataFrameEqual(
        with_model_inputs(features).select(*MODEL_INPUT_COLUMNS), expected, rtol=1e-9
    )
    assert set(KEY_COLUMNS) <= set(with_model_inputs(features).columns)
