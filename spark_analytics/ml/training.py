"""Training: time-based split, MLlib pipeline, metrics, deterministic version, versioned save.

Split (no leakage, no random split): the model is fitted on the ``train`` snapshot (features as of
``cutoff - H``, labels from ``[cutoff - H, cutoff)``) and evaluated on the ``test`` snapshot
(features as of ``cutoff``, labels from ``[cutoff, cutoff + H)``). Every training label lies
before every test label, and each feature row only uses purchases before its own snapshot date.

The version is a hash of the parameters and of fingerprints of the train and test data, so
re-running on the same data and parameters gives the same version (and overwrites the same
model directory with the same model); any change in data or parameters gives a new one.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from spark_analytics.ml.features import (
    MODEL_INPUT_COLUMNS,
    SNAPSHOT_TEST,
    SNAPSHOT_TRAIN,
    with_model_inputs,
)
from spark_analytics.ml.gate import GateConfig, gate_logger

MODEL_NAME = "purchase_propensity"
LOG_LOSS_EPSILON = 1e-15
# The fit and the evaluation read their snapshot in one partition per this many rows. Each of
# L-BFGS's iterations is a Spark job over every partition, and on small data a task's fixed cost
# outweighs the parallelism: on 2 cores a fit of 20k rows took 2.0 s in one partition against
# 4.5 s in two, 200k rows 2.9 s against 3.8 s, 1M rows 9.0 s against 7.9 s (BENCHMARKS.md, stop 37).
ROWS_PER_PARTITION = 500_000

METRICS_SCHEMA = T.StructType(
    [
        T.StructField("model_name", T.StringType(), False),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("model_path", T.StringType(), False),
        T.StructField("label_column", T.StringType(), False),
        T.StructField("train_as_of_date", T.DateType(), True),
        T.StructField("test_as_of_date", T.DateType(), True),
        T.StructField("rows_trained", T.LongType(), False),
        T.StructField("rows_tested", T.LongType(), False),
        T.StructField("train_positive_rate", T.DoubleType(), False),
        T.StructField("test_positive_rate", T.DoubleType(), False),
        T.StructField("auc_roc", T.DoubleType(), False),
        T.StructField("auc_pr", T.DoubleType(), False),
        T.StructField("accuracy", T.DoubleType(), False),
        T.StructField("log_loss", T.DoubleType(), False),
        T.StructField("params_json", T.StringType(), False),
        # The quality gate (spark_analytics.ml.gate): the metric, its threshold and whether this
        # version reached it. Scoring only uses promoted versions.
        T.StructField("gate_metric", T.StringType(), False),
        T.StructField("gate_threshold", T.DoubleType(), False),
        T.StructField("gate_value", T.DoubleType(), True),
        T.StructField("promoted", T.BooleanType(), False),
    ]
)


@dataclass(frozen=True)
class TrainingParams:
    """Hyper-parameters. Spark's objective is mean log loss + reg_param/2 * ||w||^2 (for
    elastic_net_param 0) on standardised features. L-BFGS is deterministic and the split is by
    time, so no random numbers are drawn; ``seed`` is recorded for completeness."""

    label_col: str = "label"
    feature_cols: tuple[str, ...] = MODEL_INPUT_COLUMNS
    reg_param: float = 0.001
    elastic_net_param: float = 0.0
    max_iter: int = 100
    tol: float = 1e-6
    threshold: float = 0.5
    seed: int = 42

    def to_json(self) -> str:
        values = asdict(self)
        values["feature_cols"] = list(self.feature_cols)
        return json.dumps(values, sort_keys=True)


@dataclass(frozen=True)
class TrainingResult:
    model: PipelineModel
    model_version: str
    model_path: str
    metrics: dict[str, Any]
    metrics_df: DataFrame = field(repr=False)


def build_pipeline(params: TrainingParams) -> Pipeline:
    """``Pipeline([VectorAssembler, StandardScaler, LogisticRegression])``."""
    assembler = VectorAssembler(
        inputCols=list(params.feature_cols), outputCol="raw_features", handleInvalid="error"
    )
    scaler = StandardScaler(
        inputCol="raw_features", outputCol="features", withMean=True, withStd=True
    )
    classifier = LogisticRegression(
        featuresCol="features",
        labelCol=params.label_col,
        family="binomial",
        maxIter=params.max_iter,
        regParam=params.reg_param,
        elasticNetParam=params.elastic_net_param,
        tol=params.tol,
        threshold=params.threshold,
        standardization=False,  # the scaler already did it, as in scikit-learn's pipeline
    )
    return Pipeline(stages=[assembler, scaler, classifier])


def labelled_snapshots(
    features: DataFrame, labels: DataFrame, snapshots: tuple[str, ...], label_col: str = "label"
) -> DataFrame:
    """The rows of the given snapshots: features, model inputs and the label as a double."""
    snapshot_labels = labels.where(F.col("snapshot").isin(*snapshots)).select(
        "snapshot", "customer_id", F.col(label_col).cast("double").alias(label_col)
    )
    return (
        features.where(F.col("snapshot").isin(*snapshots))
        .join(snapshot_labels, ["snapshot", "customer_id"], "inner")
        .transform(with_model_inputs)
    )


def labelled_snapshot(
    features: DataFrame, labels: DataFrame, snapshot: str, label_col: str = "label"
) -> DataFrame:
    """The rows of one snapshot (``labelled_snapshots``)."""
    return labelled_snapshots(features, labels, (snapshot,), label_col)


def sized_partitions(df: DataFrame, rows: int) -> DataFrame:
    """``df`` in ``ceil(rows / ROWS_PER_PARTITION)`` partitions (at least 1), never more than it
    has: a coalesce, so cached partitions are merged where they are, without a shuffle."""
    return df.coalesce(max(1, math.ceil(rows / ROWS_PER_PARTITION)))


def _fingerprint_columns(columns: list[str] | tuple[str, ...]) -> list[Column]:
    """An order-independent content hash: row count and sum of per-row xxhash64 (as decimal)."""
    return [
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum(F.xxhash64(*columns).cast("decimal(38,0)")), F.lit(0))
        .cast("string")
        .alias("hash_sum"),
    ]


def _fingerprint_of(summary: dict[str, Any]) -> dict[str, Any]:
    return {"rows": int(summary["rows"]), "hash_sum": str(summary["hash_sum"])}


def hashed_columns(params: TrainingParams) -> list[str]:
    """The columns whose content the version covers: key, as-of date, features, label."""
    return ["customer_id", "as_of_date", *params.feature_cols, params.label_col]


def model_version(
    params: TrainingParams, train_fingerprint: dict[str, Any], test_fingerprint: dict[str, Any]
) -> str:
    payload = json.dumps(
        {"params": params.to_json(), "train": train_fingerprint, "test": test_fingerprint},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def model_root(session: SparkSession, name: str = MODEL_NAME) -> str:
    """``<spark.sql.warehouse.dir>/ml_models/<name>`` (the server's warehouse over Connect)."""
    warehouse = session.conf.get("spark.sql.warehouse.dir")
    if not warehouse:
        raise ValueError("spark.sql.warehouse.dir is not set: cannot place the model")
    return f"{warehouse.rstrip('/')}/ml_models/{name}"


def positive_probability(predictions: DataFrame) -> DataFrame:
    """``probability`` as P(label = 1) (a double) instead of MLlib's vector."""
    return predictions.withColumn("probability", vector_to_array("probability")[1])


def evaluate(predictions: DataFrame, label_col: str = "label") -> dict[str, float]:
    """AUC-ROC, AUC-PR (MLlib's evaluator), accuracy and log loss of a transformed DataFrame."""
    metrics: dict[str, float] = {}
    for name, metric in (("auc_roc", "areaUnderROC"), ("auc_pr", "areaUnderPR")):
        evaluator = BinaryClassificationEvaluator(
            rawPredictionCol="rawPrediction", labelCol=label_col, metricName=metric
        )
        metrics[name] = float(evaluator.evaluate(predictions))
    p = F.least(
        F.greatest(vector_to_array("probability")[1], F.lit(LOG_LOSS_EPSILON)),
        F.lit(1 - LOG_LOSS_EPSILON),
    )
    y = F.col(label_col)
    row = predictions.select(
        F.avg((F.col("prediction") == y).cast("double")).alias("accuracy"),
        F.avg(-(y * F.log(p) + (1 - y) * F.log(1 - p))).alias("log_loss"),
    ).first()
    metrics["accuracy"] = float(row["accuracy"])
    metrics["log_loss"] = float(row["log_loss"])
    return metrics


def snapshot_summaries(
    labelled: DataFrame,
    snapshots: tuple[str, ...],
    hashed: list[str] | tuple[str, ...],
    label_col: str = "label",
) -> dict[str, dict[str, Any]]:
    """Per snapshot, in one aggregate over ``labelled`` (``labelled_snapshots``): rows, positive
    rate, latest as-of date, label classes, and a content hash of the ``hashed`` columns (rows
    and hash_sum, the sum of per-row xxhash64). A snapshot without rows has rows 0, hash_sum "0"
    and classes 0."""
    found = {
        row["snapshot"]: row.asDict()
        for row in labelled.groupBy("snapshot")
        .agg(
            *_fingerprint_columns(hashed),
            F.avg(label_col).alias("positive_rate"),
            F.max("as_of_date").alias("as_of_date"),
            F.countDistinct(label_col).alias("classes"),
        )
        .collect()
    }
    empty = {"rows": 0, "hash_sum": "0", "positive_rate": None, "as_of_date": None, "classes": 0}
    return {name: found.get(name, {"snapshot": name, **empty}) for name in snapshots}


# What to do when the data cannot train a model (a small dataset of your own).
UNTRAINABLE_HINT = (
    "the training snapshot is 2 x ml_horizon_days - 1 days before the last event: more "
    "history, or a smaller var ml_horizon_days; to build without the ML models: "
    "dbt build --exclude path:models/ml (make run BUILD_ARGS='--exclude path:models/ml')"
)


def _check_trainable(name: str, summary: dict[str, Any]) -> None:
    if summary["rows"] == 0:
        raise ValueError(
            f"the {name} snapshot has no labelled customers: not enough history "
            f"({UNTRAINABLE_HINT})"
        )
    if summary["classes"] < 2:
        raise ValueError(
            f"the {name} snapshot has only one label class ({summary['positive_rate']}): "
            "cannot fit or evaluate a classifier, which needs customers who bought in the label "
            f"window and customers who did not ({UNTRAINABLE_HINT})"
        )


def shuffle_labels(labels: DataFrame, label_col: str = "label", seed: int = 42) -> DataFrame:
    """The labels permuted among the customers of each snapshot (same positive rate, no
    signal left): a deterministic permutation by hash, for testing the quality gate on real
    no-signal data (dbt var ``ml_shuffle_labels``)."""
    by_customer = Window.partitionBy("snapshot").orderBy("customer_id")
    by_hash = Window.partitionBy("snapshot").orderBy(
        F.xxhash64("customer_id", F.lit(seed)), "customer_id"
    )
    keys = labels.drop(label_col).withColumn("_position", F.row_number().over(by_customer))
    values = labels.select("snapshot", F.row_number().over(by_hash).alias("_position"), label_col)
    return keys.join(values, ["snapshot", "_position"], "inner").drop("_position")


def with_history(new_metrics: DataFrame, previous: DataFrame | None) -> DataFrame:
    """The metrics table after this run: the earlier rows (other versions) with
    ``is_latest = false`` plus this run's row with ``is_latest = true``. Columns the earlier
    table lacks (it predates them) are null."""
    latest = new_metrics.withColumn("is_latest", F.lit(True))
    if previous is None:
        return latest
    have = set(previous.columns)
    older = previous.join(new_metrics.select("model_version"), "model_version", "left_anti")
    return latest.unionByName(
        older.select(
            *[
                F.col(f.name)
                if f.name in have and f.name != "is_latest"
                else F.lit(False if f.name == "is_latest" else None).cast(f.dataType).alias(f.name)
                for f in latest.schema.fields
            ]
        )
    )


def train_and_evaluate(
    features: DataFrame,
    labels: DataFrame,
    params: TrainingParams | None = None,
    root: str | None = None,
    save: bool = True,
    gate: GateConfig | None = None,
) -> TrainingResult:
    """Fits on the ``train`` snapshot, evaluates on ``test``, saves under ``root/<version>``.

    ``root`` defaults to ``model_root(session)``. Returns the model, its version and path, the
    metrics as a dict and as a one-row DataFrame (``METRICS_SCHEMA`` + ``trained_at``).
    ``gate`` (default: the project's ``ml_gate_metric`` and ``ml_gate_threshold``) decides
    ``promoted``; the version is saved either way.
    """
    params = params or TrainingParams()
    gate = gate or GateConfig()
    session = features.sparkSession
    root = root or model_root(session)
    snapshots = (SNAPSHOT_TRAIN, SNAPSHOT_TEST)
    # Both snapshots read, joined and cached together, and summarised in one query.
    labelled = labelled_snapshots(features, labels, snapshots, params.label_col).persist()
    try:
        hashed = hashed_columns(params)
        summaries = snapshot_summaries(labelled, snapshots, hashed, params.label_col)
        train_summary, test_summary = (summaries[name] for name in snapshots)
        _check_trainable(SNAPSHOT_TRAIN, train_summary)
        _check_trainable(SNAPSHOT_TEST, test_summary)
        version = model_version(params, *map(_fingerprint_of, (train_summary, test_summary)))
        path = f"{root.rstrip('/')}/{version}"
        train, test = (labelled.where(F.col("snapshot") == name) for name in snapshots)
        model = build_pipeline(params).fit(sized_partitions(train, train_summary["rows"]))
        test_sized = sized_partitions(test, test_summary["rows"])
        metrics = evaluate(model.transform(test_sized), params.label_col)
    finally:
        labelled.unpersist()
    if save:
        model.write().overwrite().save(path)
    record = {
        "model_name": MODEL_NAME,
        "model_version": version,
        "model_path": path,
        "label_column": params.label_col,
        "train_as_of_date": train_summary["as_of_date"],
        "test_as_of_date": test_summary["as_of_date"],
        "rows_trained": int(train_summary["rows"]),
        "rows_tested": int(test_summary["rows"]),
        "train_positive_rate": float(train_summary["positive_rate"]),
        "test_positive_rate": float(test_summary["positive_rate"]),
        **metrics,
        "params_json": params.to_json(),
    }
    value = metrics.get(gate.metric)
    promoted = gate.passes(value)
    record.update(
        gate_metric=gate.metric,
        gate_threshold=float(gate.threshold),
        gate_value=value,
        promoted=promoted,
    )
    log = gate_logger()
    if promoted:
        log.info(f"ml gate: model version {version} promoted: {gate.describe(value)}")
    else:
        log.warning(
            f"ml gate: model version {version} NOT promoted: {gate.describe(value)}; "
            "scoring keeps the last promoted version"
        )
    metrics_df = session.createDataFrame([record], METRICS_SCHEMA).withColumn(
        "trained_at", F.current_timestamp()
    )
    return TrainingResult(model, version, path, record, metrics_df)
