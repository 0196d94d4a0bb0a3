"""Scoring: pick the latest trained model from the metrics table, load it, score customers."""

from __future__ import annotations

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_analytics.ml.features import SNAPSHOT_SCORE, with_model_inputs
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


def score_latest(
    metrics: DataFrame, features: DataFrame, snapshot: str = SNAPSHOT_SCORE
) -> DataFrame:
    """Scores the customers of ``snapshot`` (default: as of today) with the latest model."""
    version, path = latest_model(metrics)
    model = PipelineModel.load(path)
    return score(model, features.where(F.col("snapshot") == snapshot), version)
