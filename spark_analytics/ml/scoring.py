"""Scoring: pick a model from the metrics table, load it, score customers.

``score_promoted`` (the dbt model) uses the most recently trained version that passed the quality
gate (``promoted``, spark_analytics.ml.gate); with none it returns an empty table of the same
schema and says why. ``score_latest`` uses the most recent version whatever its metrics.
"""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_analytics.ml.features import SNAPSHOT_SCORE, with_model_inputs
from spark_analytics.ml.gate import gate_logger
from spark_analytics.ml.training import positive_probability

PREDICTION_COLUMNS = ("customer_id", "as_of_date", "probability", "prediction", "model_version")


def latest_model(metrics: DataFrame) -> tuple[str, str]:
    """(model_version, model_path) of the most recently trained model in the metrics table."""
    row = (
        metrics.orderBy(F.desc("trained_at"), F.desc("model_version"))
        .select("model_version", "model_path")
        .first()
    )
    if row is None:
        raise ValueError("no trained model in the metrics table: run the training model first")
    return row["model_version"], row["model_path"]


def latest_promoted_model(metrics: DataFrame) -> tuple[str, str] | None:
    """(model_version, model_path) of the most recently trained *promoted* model, or None.

    Rows without a ``promoted`` value (trained before the gate existed) do not count."""
    if "promoted" not in metrics.columns:
        return None
    row = (
        metrics.where(F.coalesce(F.col("promoted"), F.lit(False)))
        .orderBy(F.desc("trained_at"), F.desc("model_version"))
        .select("model_version", "model_path")
        .first()
    )
    return None if row is None else (row["model_version"], row["model_path"])


def score(model: PipelineModel, features: DataFrame, version: str) -> DataFrame:
    """One row per feature row: P(label = 1), the 0/1 prediction and the model version."""
    return (
        model.transform(features.transform(with_model_inputs))
        .transform(positive_probability)
        .select(
            "customer_id",
            "as_of_date",
            "probability",
            F.col("prediction").cast("int").alias("prediction"),
            F.lit(version).alias("model_version"),
        )
    )


def empty_scores(features: DataFrame) -> DataFrame:
    """No rows, with the schema ``score`` returns."""
    return features.where(F.lit(False)).select(
        "customer_id",
        "as_of_date",
        F.lit(None).cast("double").alias("probability"),
        F.lit(None).cast("int").alias("prediction"),
        F.lit(None).cast("string").alias("model_version"),
    )


def score_latest(
    metrics: DataFrame, features: DataFrame, snapshot: str = SNAPSHOT_SCORE
) -> DataFrame:
    """Scores the customers of ``snapshot`` (default: as of today) with the latest model."""
    version, path = latest_model(metrics)
    model = PipelineModel.load(path)
    return score(model, features.where(F.col("snapshot") == snapshot), version)


def _latest_gate_summary(metrics: DataFrame) -> str:
    columns = set(metrics.columns)
    if not {"gate_metric", "gate_value", "gate_threshold"} <= columns:
        return "no version in the metrics table has gate columns"
    row = metrics.orderBy(F.desc("trained_at"), F.desc("model_version")).first()
    if row is None:
        return "the metrics table is empty"
    value = row["gate_value"]
    shown = "n/a" if value is None else f"{value:.4f}"
    return (
        f"the latest version {row['model_version']} has {row['gate_metric']} = {shown} "
        f"(threshold {row['gate_threshold']})"
    )


def score_promoted(
    metrics: DataFrame, features: DataFrame, snapshot: str = SNAPSHOT_SCORE
) -> DataFrame:
    """Scores ``snapshot`` with the last promoted model; none promoted: no rows (logged)."""
    log = gate_logger()
    chosen = latest_promoted_model(metrics)
    if chosen is None:
        log.warning(
            "ml gate: no promoted model version, scoring nothing (empty scores table): "
            + _latest_gate_summary(metrics)
        )
        return empty_scores(features)
    version, path = chosen
    log.info(f"ml gate: scoring with the last promoted model version {version}")
    model = PipelineModel.load(path)
    return score(model, features.where(F.col("snapshot") == snapshot), version)
