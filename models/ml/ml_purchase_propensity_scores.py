"""Scores today's customers with the last PROMOTED purchase-propensity model.

Reads the metrics table for the most recently trained version that passed the quality gate
(`promoted`), loads its saved PipelineModel and scores the `score` snapshot of
ml_customer_features (features from all data). No promoted version: an empty table (same
schema) and a warning in the log. Logic in spark_analytics.ml.scoring.
"""

from spark_analytics.ml.scoring import score_promoted


def model(dbt, session):
    dbt.config(materialized="table")
    metrics = dbt.ref("ml_purchase_propensity_training")
    features = dbt.ref("ml_customer_features")
    return score_promoted(metrics, features)
