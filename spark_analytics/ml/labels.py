"""Labels: what each customer of a snapshot did in the horizon after the snapshot date.

The Python twin of ``models/ml/ml_customer_labels.sql``. Kept apart from the features so that
nothing after a snapshot date can reach a feature.

``label`` (the model's target) = the customer makes at least one purchase in
``[as_of_date, label_window_end)`` (the complement of "churns in the next 30 days", the signal
the generator makes most predictable). ``label_high_value`` (a purchase above the high-value
threshold in the window) is kept for comparison.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_analytics.contracts import dbt_var

LABEL_COLUMNS = ("purchases_in_window", "label", "label_high_value")


def purchases_in_window(purchases: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Each purchase once per snapshot whose label window contains its date."""
    windows = snapshots.where(F.col("label_window_end").isNotNull()).select(
        "snapshot", "as_of_date", "label_window_end"
    )
    in_window = (F.col("purchase_date") >= F.col("as_of_date")) & (
        F.col("purchase_date") < F.col("label_window_end")
    )
    return purchases.join(F.broadcast(windows), in_window, "inner")


def customer_labels(
    population: DataFrame,
    purchases: DataFrame,
    snapshots: DataFrame,
    high_value_threshold: float | None = None,
) -> DataFrame:
    """One row per (snapshot with a label window, customer of ``population`` in it).

    ``population`` has (snapshot, customer_id): typically the feature table's keys.
    ``high_value_threshold`` defaults to the dbt var of that name (dbt_project.yml).
    """
    if high_value_threshold is None:
        high_value_threshold = dbt_var("high_value_threshold")
    future = (
        purchases_in_window(purchases, snapshots)
        .groupBy("snapshot", "customer_id")
        .agg(
            F.count(F.lit(1)).alias("purchases_in_window"),
            F.count_if(F.col("purchase_amount") > F.lit(high_value_threshold)).alias(
                "high_value_in_window"
            ),
        )
    )
    windows = snapshots.where(F.col("label_window_end").isNotNull()).select(
        "snapshot", "as_of_date", "label_window_end"
    )
    return (
        population.select("snapshot", "customer_id")
        .join(windows, "snapshot", "inner")
        .join(future, ["snapshot", "customer_id"], "left")
        .select(
            "snapshot",
            "as_of_date",
            "customer_id",
            "label_window_end",
            F.coalesce("purchases_in_window", F.lit(0)).cast("bigint").alias("purchases_in_window"),
            (F.coalesce("purchases_in_window", F.lit(0)) > 0).cast("int").alias("label"),
            (F.coalesce("high_value_in_window", F.lit(0)) > 0)
            .cast("int")
            .alias("label_high_value"),
        )
    )
