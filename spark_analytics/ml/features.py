"""Customer features as of snapshot dates, built only from purchases strictly before the date.

Inputs are shaped like the marts: ``purchases`` like ``fct_purchases`` (customer_id,
category_code, purchase_amount decimal, purchase_date, ...), ``categories`` like the
``merchant_categories`` seed (category_code, is_discretionary) and ``customers`` like
``dim_customers`` (customer_id, signup_date). ``models/ml/ml_customer_features.sql`` computes the
same columns in SQL; tests compare the two.

Snapshots (one row each, ``snapshot_dates``), with ``H`` the label horizon (``ml_horizon_days``):

* ``train``: as of ``cutoff - H``; its labels come from ``[cutoff - H, cutoff)``;
* ``test``:  as of ``cutoff``; its labels come from ``[cutoff, cutoff + H)``;
* ``score``: as of the day after the last event (all data): the customers scored today.

The default cut-off is ``last_event_date - (H - 1)``, so the test label window is exactly the
last ``H`` days of data (ending with the last event date) and train and test never overlap.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_analytics.contracts import dbt_var

SNAPSHOT_TRAIN = "train"
SNAPSHOT_TEST = "test"
SNAPSHOT_SCORE = "score"

KEY_COLUMNS = ("snapshot", "as_of_date", "customer_id")
FEATURE_COLUMNS = (
    "recency_days",
    "tenure_days",
    "purchase_count",
    "purchase_count_30d",
    "purchase_count_90d",
    "total_spend",
    "spend_90d",
    "avg_amount",
    "max_amount",
    "high_value_share",
    "discretionary_share",
)
# Heavy-tailed counts, amounts and day counts enter the model as log1p(x); shares as they are.
LOG_FEATURES = FEATURE_COLUMNS[:9]
SHARE_FEATURES = FEATURE_COLUMNS[9:]
MODEL_INPUT_COLUMNS = tuple(f"log_{c}" for c in LOG_FEATURES) + SHARE_FEATURES


def _as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise ValueError(f"ml_cutoff_date must be a date 'YYYY-MM-DD', got {value!r}") from err


def snapshot_dates(
    purchases: DataFrame,
    cutoff_date: str | dt.date | None = None,
    horizon_days: int | None = None,
) -> DataFrame:
    """Three rows (snapshot, as_of_date, label_window_end, cutoff_date, last_event_date).

    ``label_window_end`` is exclusive and null for the ``score`` snapshot (no future yet).
    ``horizon_days`` defaults to the project's var ``ml_horizon_days``.
    """
    if horizon_days is None:
        horizon_days = dbt_var("ml_horizon_days")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    bounds = purchases.agg(F.max("purchase_date").alias("last_event_date"))
    if cutoff_date is None:
        cutoff = F.date_sub("last_event_date", horizon_days - 1)
    else:
        cutoff = F.lit(_as_date(cutoff_date))
    bounds = bounds.withColumn("cutoff_date", cutoff)

    def snapshot(name: str, as_of: Column, with_labels: bool) -> DataFrame:
        window_end = F.date_add(as_of, horizon_days) if with_labels else F.lit(None)
        return bounds.select(
            F.lit(name).alias("snapshot"),
            as_of.alias("as_of_date"),
            window_end.cast("date").alias("label_window_end"),
            "cutoff_date",
            "last_event_date",
        )

    return (
        snapshot(SNAPSHOT_TRAIN, F.date_sub("cutoff_date", horizon_days), True)
        .unionByName(snapshot(SNAPSHOT_TEST, F.col("cutoff_date"), True))
        .unionByName(snapshot(SNAPSHOT_SCORE, F.date_add("last_event_date", 1), False))
    )


def purchases_before(purchases: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Each purchase once per snapshot it precedes (purchase_date < as_of_date): no leakage."""
    return purchases.join(
        F.broadcast(snapshots.select("snapshot", "as_of_date")),
        F.col("purchase_date") < F.col("as_of_date"),
        "inner",
    )


def _days_before(days: int) -> Column:
    return F.col("purchase_date") >= F.date_sub("as_of_date", days)


def _share(condition: Column) -> Column:
    return F.count_if(condition) / F.count(F.lit(1))


def customer_features(
    purchases: DataFrame,
    snapshots: DataFrame,
    categories: DataFrame,
    customers: DataFrame,
    high_value_threshold: float | None = None,
) -> DataFrame:
    """One row per (snapshot, customer with at least one purchase before the snapshot date).

    ``high_value_threshold`` defaults to the dbt var of that name (dbt_project.yml), the one
    place the segment thresholds live.

    Tenure counts from the signup date, or from the first purchase when the customer has none.
    Unknown categories count as not discretionary.
    """
    history = (
        purchases_before(purchases, snapshots)
        .join(
            F.broadcast(categories.select("category_code", "is_discretionary")),
            "category_code",
            "left",
        )
        .withColumn("is_discretionary", F.coalesce("is_discretionary", F.lit(False)))
    )
    if high_value_threshold is None:
        high_value_threshold = dbt_var("high_value_threshold")
    amount = F.col("purchase_amount")
    aggregated = history.groupBy("snapshot", "as_of_date", "customer_id").agg(
        F.max("purchase_date").alias("last_purchase_date"),
        F.min("purchase_date").alias("first_purchase_date"),
        F.count(F.lit(1)).alias("purchase_count"),
        F.count_if(_days_before(30)).alias("purchase_count_30d"),
        F.count_if(_days_before(90)).alias("purchase_count_90d"),
        F.sum(amount).cast("double").alias("total_spend"),
        F.coalesce(F.sum(F.when(_days_before(90), amount)), F.lit(0))
        .cast("double")
        .alias("spend_90d"),
        F.avg(amount).cast("double").alias("avg_amount"),
        F.max(amount).cast("double").alias("max_amount"),
        _share(amount > F.lit(high_value_threshold)).cast("double").alias("high_value_share"),
        _share(F.col("is_discretionary")).cast("double").alias("discretionary_share"),
    )
    return (
        aggregated.join(customers.select("customer_id", "signup_date"), "customer_id", "left")
        .withColumn("recency_days", F.datediff("as_of_date", "last_purchase_date"))
        .withColumn(
            "tenure_days",
            F.datediff("as_of_date", F.coalesce("signup_date", "first_purchase_date")),
        )
        .select(*KEY_COLUMNS, *FEATURE_COLUMNS)
    )


def with_model_inputs(features: DataFrame) -> DataFrame:
    """Adds the model's input columns (``MODEL_INPUT_COLUMNS``): log1p of the skewed features.

    Negative values (impossible for valid data) are clipped to 0 rather than producing NaN.
    """
    return features.withColumns(
        {f"log_{c}": F.log1p(F.greatest(F.col(c).cast("double"), F.lit(0.0))) for c in LOG_FEATURES}
    )
