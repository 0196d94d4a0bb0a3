"""The report's data: one Spark SQL query per section, over the published marts.

Each function takes the SparkSession and the base schema (``DBT_SCHEMA``, default ``analytics``)
and returns plain rows (lists of dicts) for the charts and the page. Aggregates are computed by
Spark over the marts, never in Python, so the page shows what the warehouse holds. A missing or
empty table gives an empty section with a note instead of an error (e.g. the stream never ran).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

TOP_N = 10
BUSIEST_MERCHANTS = 5
SCORE_BINS = 20
# ROC / PR thresholds: probabilities rounded to this many decimals (at most 1,001 points).
CURVE_DECIMALS = 3
QUARANTINE_TABLES = ("quarantine_transactions", "quarantine_customers", "quarantine_merchants")


def base_schema() -> str:
    return os.environ.get("DBT_SCHEMA", "analytics")


@dataclass
class Section:
    """Rows of one report section, plus a note shown on the page when there is nothing to show."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportData:
    schema: str
    segments: Section
    customer_segments: Section
    top_merchants: Section
    top_categories: Section
    hourly: Section
    model: Section
    scores: Section
    quarantine: Section


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.collect()]


def _exists(spark: SparkSession, table: str) -> bool:
    return spark.catalog.tableExists(table)


def _missing(table: str) -> Section:
    return Section(
        note=f"{table} was not built in this state: `make run` (dbt build) builds it, unless "
        "its models were left out (BUILD_ARGS='--exclude ...')."
    )


def sales_by_segment(spark: SparkSession, schema: str) -> Section:
    table = f"{schema}_marts.rpt_sales_by_segment"
    if not _exists(spark, table):
        return _missing(table)
    rows = _rows(
        spark.sql(
            f"""
            select purchase_segment, transaction_count, customer_count, avg_purchase, total_sales
            from {table}
            order by total_sales desc, purchase_segment
            """
        )
    )
    totals = spark.sql(
        f"select sum(transaction_count) as transaction_count, sum(total_sales) as total_sales "
        f"from {table}"
    ).first()
    return Section(rows=rows, extra={"totals": totals.asDict(), "table": table})


def customer_segments(spark: SparkSession, schema: str) -> Section:
    table = f"{schema}_marts.dim_customers"
    if not _exists(spark, table):
        return _missing(table)
    rows = _rows(
        spark.sql(
            f"""
            select
                coalesce(customer_segment, 'No purchases') as customer_segment,
                count(*) as customers,
                sum(purchase_count) as purchases,
                sum(lifetime_spend) as lifetime_spend
            from {table}
            group by coalesce(customer_segment, 'No purchases')
            order by customers desc, customer_segment
            """
        )
    )
    return Section(rows=rows, extra={"table": table})


def top_merchants(spark: SparkSession, schema: str, limit: int = TOP_N) -> Section:
    table = f"{schema}_marts.dim_merchants"
    if not _exists(spark, table):
        return _missing(table)
    rows = _rows(
        spark.sql(
            f"""
            select merchant_id, merchant_name, coalesce(category_name, 'Unknown') as category_name,
                transaction_count, total_sales
            from {table}
            order by total_sales desc, merchant_id
            limit {int(limit)}
            """
        )
    )
    return Section(rows=rows, extra={"table": table})


def top_categories(spark: SparkSession, schema: str, limit: int = TOP_N) -> Section:
    table = f"{schema}_marts.dim_merchants"
    if not _exists(spark, table):
        return _missing(table)
    rows = _rows(
        spark.sql(
            f"""
            select coalesce(category_name, 'Unknown') as category_name,
                count(*) as merchants,
                sum(transaction_count) as transaction_count,
                sum(total_sales) as total_sales
            from {table}
            group by coalesce(category_name, 'Unknown')
            order by total_sales desc, category_name
            limit {int(limit)}
            """
        )
    )
    return Section(rows=rows, extra={"table": table})


def hourly_curves(spark: SparkSession, schema: str, limit: int = BUSIEST_MERCHANTS) -> Section:
    """The busiest merchants of the hourly stream mart and their transactions per hour of day."""
    table = f"{schema}_marts.fct_merchant_hourly_transactions"
    stream_note = (
        "The event stream has not run, so {table} is {state}: run `make stream` and then "
        "`make report` to draw the hourly curves of the busiest merchants."
    )
    if not _exists(spark, table):
        return Section(note=stream_note.format(table=table, state="missing"))
    hourly = spark.table(table)
    if hourly.limit(1).count() == 0:
        return Section(note=stream_note.format(table=table, state="empty"))
    busiest = spark.sql(
        f"""
        select merchant_id, sum(transaction_count) as transaction_count,
            sum(total_amount) as total_amount, count(*) as hourly_windows
        from {table}
        group by merchant_id
        order by transaction_count desc, merchant_id
        limit {int(limit)}
        """
    )
    names = f"{schema}_marts.dim_merchants"
    if _exists(spark, names):
        busiest = busiest.join(
            spark.table(names).select("merchant_id", "merchant_name"), "merchant_id", "left"
        )
    else:
        busiest = busiest.withColumn("merchant_name", F.lit(None).cast("string"))
    busiest_rows = _rows(busiest.orderBy(F.desc("transaction_count"), "merchant_id"))
    curve = _rows(
        hourly.join(busiest.select("merchant_id"), "merchant_id", "left_semi")
        .groupBy("merchant_id", F.hour("window_start").alias("hour_of_day"))
        .agg(F.sum("transaction_count").alias("transaction_count"))
        .orderBy("merchant_id", "hour_of_day")
    )
    span = spark.sql(
        f"select min(window_start) as first_window, max(window_end) as last_window from {table}"
    ).first()
    return Section(
        rows=busiest_rows,
        extra={"curve": curve, "table": table, **span.asDict()},
    )


def _latest_model(spark: SparkSession, schema: str) -> dict[str, Any] | None:
    table = f"{schema}_ml.ml_purchase_propensity_training"
    if not _exists(spark, table):
        return None
    row = spark.sql(
        f"""
        select model_version, model_path, label_column, train_as_of_date, test_as_of_date,
            rows_trained, rows_tested, train_positive_rate, test_positive_rate,
            auc_roc, auc_pr, accuracy, log_loss, trained_at
        from {table}
        order by trained_at desc, model_version desc
        limit 1
        """
    ).first()
    return row.asDict() if row else None


def _curves(predictions: DataFrame, label: str) -> tuple[list[dict[str, Any]], str | None]:
    """ROC and PR points from (label, probability) rows, one per rounded threshold, in Spark."""
    binned = predictions.groupBy(F.round("probability", CURVE_DECIMALS).alias("threshold")).agg(
        F.sum(F.col(label)).alias("positives"),
        F.sum(1 - F.col(label)).alias("negatives"),
    )
    totals = binned.agg(F.sum("positives").alias("p"), F.sum("negatives").alias("n")).first()
    if not totals["p"] or not totals["n"]:
        return [], "the test snapshot has a single label class: no curve"
    running = Window.orderBy(F.desc("threshold")).rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    points = (
        binned.withColumn("tp", F.sum("positives").over(running))
        .withColumn("fp", F.sum("negatives").over(running))
        .select(
            "threshold",
            (F.col("tp") / F.lit(totals["p"])).alias("tpr"),
            (F.col("fp") / F.lit(totals["n"])).alias("fpr"),
            (F.col("tp") / (F.col("tp") + F.col("fp"))).alias("precision"),
        )
        .orderBy(F.desc("threshold"))
    )
    return _rows(points), None


def propensity_model(spark: SparkSession, schema: str) -> Section:
    """The latest model's stored metrics, and its ROC / PR curves on the test snapshot.

    The training table stores metrics, not curve points, and the scoring table scores the
    ``score`` snapshot, which has no labels yet. So the curves come from applying the saved
    PipelineModel (``model_path``) to the labelled ``test`` snapshot, the rows the stored AUCs
    were measured on.
    """
    from pyspark.ml import PipelineModel

    from spark_analytics.ml.features import SNAPSHOT_TEST
    from spark_analytics.ml.training import labelled_snapshot, positive_probability

    model = _latest_model(spark, schema)
    if model is None:
        return Section(
            note=f"{schema}_ml.ml_purchase_propensity_training is missing or empty: "
            "no trained model to show."
        )
    label = model["label_column"]
    features_table = f"{schema}_ml.ml_customer_features"
    labels_table = f"{schema}_ml.ml_customer_labels"
    source = (
        f"Curves: the saved model {model['model_version']} ({model['model_path']}) applied to "
        f"the labelled test snapshot ({features_table} joined with {labels_table}, snapshot = "
        "'test'), the rows the stored metrics were measured on; ROC points are not stored. "
        f"Thresholds are the predicted probabilities rounded to {CURVE_DECIMALS} decimals."
    )
    curve: list[dict[str, Any]] = []
    note = None
    if not (_exists(spark, features_table) and _exists(spark, labels_table)):
        note = f"{features_table} or {labels_table} is missing: no curves."
    else:
        try:
            fitted = PipelineModel.load(model["model_path"])
        except Exception as error:  # a moved or deleted model directory
            note = (
                f"the saved model at {model['model_path']} cannot be loaded ({error}): no curves."
            )
        else:
            test = labelled_snapshot(
                spark.table(features_table), spark.table(labels_table), SNAPSHOT_TEST, label
            )
            predictions = fitted.transform(test).transform(positive_probability)
            curve, note = _curves(predictions.select(label, "probability"), label)
    return Section(rows=[model], note=note, extra={"curve": curve, "curve_source": source})


def score_distribution(spark: SparkSession, schema: str, bins: int = SCORE_BINS) -> Section:
    table = f"{schema}_ml.ml_purchase_propensity_scores"
    if not _exists(spark, table):
        return _missing(table)
    summary = spark.sql(
        f"""
        select count(*) as customers, sum(prediction) as predicted_buyers,
            avg(probability) as mean_probability, max(as_of_date) as as_of_date
        from {table}
        """
    ).first()
    histogram = _rows(
        spark.sql(
            f"""
            select least(cast(floor(probability * {int(bins)}) as int), {int(bins) - 1}) as bin,
                count(*) as customers
            from {table}
            group by 1
            order by 1
            """
        )
    )
    return Section(
        rows=[summary.asDict()], extra={"histogram": histogram, "bins": bins, "table": table}
    )


def quarantine(spark: SparkSession, schema: str) -> Section:
    tables = [
        f"{schema}_quarantine.{name}"
        for name in QUARANTINE_TABLES
        if _exists(spark, f"{schema}_quarantine.{name}")
    ]
    if not tables:
        return _missing(f"{schema}_quarantine.quarantine_*")
    union = " union all ".join(
        f"select source_relation, rejection_reason from {table}" for table in tables
    )
    rows = _rows(
        spark.sql(
            f"""
            select source_relation, rejection_reason, count(*) as rejected_rows
            from ({union}) as rejected
            group by source_relation, rejection_reason
            order by source_relation, rejected_rows desc, rejection_reason
            """
        )
    )
    per_table = _rows(
        spark.sql(
            " union all ".join(
                f"select '{table}' as quarantine_table, count(*) as rejected_rows from {table}"
                for table in tables
            )
        )
    )
    note = None if rows else "No rejected rows: every source row was accepted."
    return Section(rows=rows, note=note, extra={"tables": tables, "per_table": per_table})


def load(spark: SparkSession, schema: str | None = None) -> ReportData:
    schema = schema or base_schema()
    return ReportData(
        schema=schema,
        segments=sales_by_segment(spark, schema),
        customer_segments=customer_segments(spark, schema),
        top_merchants=top_merchants(spark, schema),
        top_categories=top_categories(spark, schema),
        hourly=hourly_curves(spark, schema),
        model=propensity_model(spark, schema),
        scores=score_distribution(spark, schema),
        quarantine=quarantine(spark, schema),
    )
