"""Trains the purchase-propensity model; returns the metrics table (one row per version).

All logic is in spark_analytics.ml.training (pure functions, tested without dbt). The fitted
PipelineModel is saved under <spark.sql.warehouse.dir>/ml_models/purchase_propensity/<version>
(or the `model_root` config). The version is a hash of data and parameters: a rerun on the same
data overwrites the same directory and merges onto the same metrics row.

Quality gate (vars ml_gate_metric, ml_gate_threshold via the config in _ml__models.yml): the row
records the metric, the threshold and `promoted`; scoring only uses promoted versions. This
run's row has is_latest = true, earlier versions false. Var ml_shuffle_labels permutes the
labels (no signal left), to see the gate at work.
"""

from spark_analytics.ml.gate import GateConfig, as_bool
from spark_analytics.ml.training import (
    TrainingParams,
    shuffle_labels,
    train_and_evaluate,
    with_history,
)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="merge",
        unique_key="model_version",
        on_schema_change="append_new_columns",
    )
    root = dbt.config.get("model_root") or None
    gate = GateConfig.from_config(
        dbt.config.get("ml_gate_metric"), dbt.config.get("ml_gate_threshold")
    )
    features = dbt.ref("ml_customer_features")
    labels = dbt.ref("ml_customer_labels")
    if as_bool(dbt.config.get("ml_shuffle_labels")):
        labels = shuffle_labels(labels)
    result = train_and_evaluate(features, labels, TrainingParams(), root=root, gate=gate)
    previous = session.table(str(dbt.this)) if dbt.is_incremental else None
    return with_history(result.metrics_df, previous)
