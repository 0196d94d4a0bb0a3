"""Scores today's customers with the latest trained purchase-propensity model.

Reads the metrics table for the latest model (by trained_at), loads the saved PipelineModel and
scores the `score` snapshot of ml_customer_features (features from all data). Logic in
spark_analytics.ml.scoring.
"""

from spark_analytics.ml.scoring import score_latest


def model(dbt, session):
    dbt.config(materialized="table")
    metrics = dbt.ref("ml_purchase_propensity_training")
    features = dbt.ref("ml_customer_features")
    return score_latest(metrics, features)
