"""Trains the purchase-propensity model; returns its metrics row (the table keeps one per version).

All logic is in spark_analytics.ml.training (pure functions, tested without dbt). The fitted
PipelineModel is saved under <spark.sql.warehouse.dir>/ml_models/purchase_propensity/<version>
(or the `model_root` config). The version is a hash of data and parameters: a rerun on the same
data overwrites the same directory and merges onto the same metrics row.
"""

from spark_analytics.ml.training import TrainingParams, train_and_evaluate


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="merge",
        unique_key="model_version",
    )
    root = dbt.config.get("model_root") or None
    features = dbt.ref("ml_customer_features")
    labels = dbt.ref("ml_customer_labels")
    result = train_and_evaluate(features, labels, TrainingParams(), root=root)
    return result.metrics_df
