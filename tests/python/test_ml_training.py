"""Training and scoring on the generator's data, checked against scikit-learn (no dbt).

The generator's valid rows go through the feature and label functions; MLlib's pipeline is
compared with an independent scikit-learn StandardScaler + LogisticRegression with the same
objective on the same features and the same time-based split.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, auc, log_loss, precision_recall_curve, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from spark_analytics.datagen import DatagenConfig
from spark_analytics.ml.features import (
    MODEL_INPUT_COLUMNS,
    SNAPSHOT_SCORE,
    SNAPSHOT_TEST,
    SNAPSHOT_TRAIN,
    customer_features,
    snapshot_dates,
)
from spark_analytics.ml.labels import customer_labels
from spark_analytics.ml.scoring import latest_model, score, score_latest
from spark_analytics.ml.synthetic import generated_inputs
from spark_analytics.ml.training import (
    ROWS_PER_PARTITION,
    TrainingParams,
    TrainingResult,
    hashed_columns,
    labelled_snapshot,
    model_version,
    sized_partitions,
    train_and_evaluate,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = 30_000  # about 1,500 customers
SEED = 11


@pytest.fixture(scope="module")
def features_and_labels(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    inputs = generated_inputs(spark, DatagenConfig(rows=ROWS, seed=SEED))
    purchases = inputs.purchases.persist()
    snapshots = snapshot_dates(purchases)
    features = customer_features(purchases, snapshots, inputs.categories, inputs.customers)
    features = features.persist()
    labels = customer_labels(features, purchases, snapshots).persist()
    return features, labels


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ml_models")


@pytest.fixture(scope="module")
def trained(features_and_labels: tuple[DataFrame, DataFrame], model_root: Path) -> TrainingResult:
    features, labels = features_and_labels
    return train_and_evaluate(features, labels, TrainingParams(), root=str(model_root))


def snapshot_pandas(
    features: DataFrame, labels: DataFrame, snapshot: str, label: str = "label"
) -> pd.DataFrame:
    return (
        labelled_snapshot(features, labels, snapshot, label)
        .select("customer_id", label, *MODEL_INPUT_COLUMNS)
        .toPandas()
        .sort_values("customer_id", ignore_index=True)
    )


def test_mllib_auc_agrees_with_sklearn(
    features_and_labels: tuple[DataFrame, DataFrame], trained: TrainingResult
) -> None:
    features, labels = features_and_labels
    train = snapshot_pandas(features, labels, SNAPSHOT_TRAIN)
    test = snapshot_pandas(features, labels, SNAPSHOT_TEST)
    params = TrainingParams()
    # Same objective: Spark minimises mean log loss + reg/2 |w|^2, sklearn C * sum + 1/2 |w|^2.
    sk = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=1.0 / (params.reg_param * len(train)), max_iter=1000, tol=1e-8),
    )
    columns = list(MODEL_INPUT_COLUMNS)
    sk.fit(train[columns], train["label"])
    sklearn_auc = roc_auc_score(test["label"], sk.predict_proba(test[columns])[:, 1])
    mllib_auc = trained.metrics["auc_roc"]
    print(f"test AUC: MLlib {mllib_auc:.4f}, scikit-learn {sklearn_auc:.4f}")
    assert trained.metrics["rows_trained"] == len(train)
    assert trained.metrics["rows_tested"] == len(test)
    assert abs(mllib_auc - sklearn_auc) < 0.02
    assert mllib_auc > 0.7  # the threshold of the dbt test on the metrics table


def test_reported_metrics_match_sklearn_on_mllib_probabilities(
    features_and_labels: tuple[DataFrame, DataFrame], trained: TrainingResult
) -> None:
    features, labels = features_and_labels
    test_rows = features.where(F.col("snapshot") == SNAPSHOT_TEST)
    scored = (
        score(trained.model, test_rows, trained.model_version)
        .join(labels.where(F.col("snapshot") == SNAPSHOT_TEST), "customer_id")
        .select("label", "probability", "prediction")
        .toPandas()
    )
    y, p = scored["label"], scored["probability"]
    precision, recall, _ = precision_recall_curve(y, p)
    metrics = trained.metrics
    assert metrics["auc_roc"] == pytest.approx(roc_auc_score(y, p), abs=1e-3)
    assert metrics["auc_pr"] == pytest.approx(auc(recall, precision), abs=1e-2)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, scored["prediction"]))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p), rel=1e-6)
    assert metrics["test_positive_rate"] == pytest.approx(y.mean())
    assert ((p >= 0) & (p <= 1)).all()
    assert (scored["prediction"] == (p > 0.5).astype(int)).all()


def test_version_is_deterministic_and_rerun_overwrites_same_model(
    features_and_labels: tuple[DataFrame, DataFrame], trained: TrainingResult, model_root: Path
) -> None:
    features, labels = features_and_labels
    again = train_and_evaluate(features, labels, TrainingParams(), root=str(model_root))
    assert again.model_version == trained.model_version
    assert again.model_path == trained.model_path
    # One partition (sized_partitions): the same sums in the same order, the same model.
    again_fit, trained_fit = again.model.stages[-1], trained.model.stages[-1]
    assert (again_fit.coefficients, again_fit.intercept) == (
        trained_fit.coefficients,
        trained_fit.intercept,
    )
    assert again.metrics == trained.metrics
    assert [p.name for p in model_root.iterdir()] == [trained.model_version]
    json.loads(trained.metrics["params_json"])  # parameters are valid JSON

    loaded = PipelineModel.load(trained.model_path)
    test_rows = features.where(F.col("snapshot") == SNAPSHOT_TEST)
    assertDataFrameEqual(
        score(loaded, test_rows, "v"), score(trained.model, test_rows, "v"), rtol=1e-9
    )

    other = train_and_evaluate(
        features,
        labels,
        replace(TrainingParams(), reg_param=0.01),
        root=str(model_root),
        save=False,
    )
    assert other.model_version != trained.model_version


def test_version_hashes_the_parameters_and_each_snapshots_own_fingerprint(
    features_and_labels: tuple[DataFrame, DataFrame], trained: TrainingResult
) -> None:
    """Training summarises both snapshots in one query. The version is the hash of the
    parameters and of each snapshot's row count and sum of per-row xxhash64 over the key, the
    as-of date, the model inputs and the label, computed here snapshot by snapshot."""
    features, labels = features_and_labels
    params = TrainingParams()
    columns = ["customer_id", "as_of_date", *MODEL_INPUT_COLUMNS, "label"]
    assert hashed_columns(params) == columns
    each = []
    for snapshot in (SNAPSHOT_TRAIN, SNAPSHOT_TEST):
        rows = labelled_snapshot(features, labels, snapshot).select(
            F.xxhash64(*columns).cast("decimal(38,0)").alias("h")
        )
        total = rows.agg(F.sum("h")).first()[0]
        each.append({"rows": rows.count(), "hash_sum": str(total)})
    assert [f["rows"] for f in each] == [
        trained.metrics["rows_trained"],
        trained.metrics["rows_tested"],
    ]
    assert trained.model_version == model_version(params, *each)


@pytest.mark.parametrize(
    ("rows", "partitions"),
    [(0, 1), (10, 1), (ROWS_PER_PARTITION, 1), (2 * ROWS_PER_PARTITION + 1, 3), (10**9, 4)],
)
def test_sized_partitions_gives_one_partition_per_rows_per_partition(
    spark: SparkSession, rows: int, partitions: int
) -> None:
    four = spark.range(0, 8, 1, 4)
    assert sized_partitions(four, rows).rdd.getNumPartitions() == partitions  # never more than 4


def test_scoring_uses_latest_model_one_row_per_customer(
    spark: SparkSession, features_and_labels: tuple[DataFrame, DataFrame], trained: TrainingResult
) -> None:
    features, _ = features_and_labels
    older = trained.metrics_df.withColumn("model_version", F.lit("older")).withColumn(
        "trained_at", F.col("trained_at") - F.expr("interval 1 day")
    )
    history = older.unionByName(trained.metrics_df)
    assert latest_model(history) == (trained.model_version, trained.model_path)

    scores = score_latest(history, features).toPandas()
    customers = features.where(F.col("snapshot") == SNAPSHOT_SCORE).select("customer_id")
    assert sorted(scores["customer_id"]) == sorted(r[0] for r in customers.collect())
    assert scores["customer_id"].is_unique
    assert scores["probability"].between(0, 1).all()
    assert (scores["model_version"] == trained.model_version).all()
    # Scores are ranked sensibly: customers who bought in the last 30 days score higher.
    recent = features.where(F.col("snapshot") == SNAPSHOT_SCORE).select(
        "customer_id", (F.col("purchase_count_30d") > 0).alias("recent")
    )
    by_recent = scores.merge(recent.toPandas(), on="customer_id").groupby("recent")["probability"]
    assert by_recent.mean()[True] > by_recent.mean()[False]

    empty = trained.metrics_df.where(F.lit(False))
    with pytest.raises(ValueError, match="no trained model"):
        latest_model(empty)


def test_one_label_class_fails_with_clear_error(
    features_and_labels: tuple[DataFrame, DataFrame], tmp_path: Path
) -> None:
    features, labels = features_and_labels
    all_buy = labels.withColumn("label", F.lit(1))
    with pytest.raises(ValueError, match="train snapshot has only one label class") as one:
        train_and_evaluate(features, all_buy, root=str(tmp_path))
    no_train = labels.where(F.col("snapshot") != SNAPSHOT_TRAIN)
    with pytest.raises(ValueError, match="train snapshot has no labelled customers") as none:
        train_and_evaluate(features, no_train, root=str(tmp_path))
    # both say how to go on without the models
    for raised in (one, none):
        assert "dbt build --exclude path:models/ml" in str(raised.value)


CONNECT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from spark_analytics.ml.scoring import score_latest
    from spark_analytics.ml.synthetic import random_features
    from spark_analytics.ml.training import train_and_evaluate

    spark = (
        SparkSession.builder.remote("local[2]")
        .config("spark.sql.warehouse.dir", sys.argv[1])
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    assert type(spark).__module__.startswith("pyspark.sql.connect"), type(spark)
    features, labels = random_features(spark, 2000, partitions=2)
    first = train_and_evaluate(features, labels)
    again = train_and_evaluate(features, labels)
    scores = score_latest(first.metrics_df, features.withColumn("snapshot", F.lit("score")))
    stats = scores.agg(F.count("*"), F.min("probability"), F.max("probability")).first()
    print(json.dumps({
        "auc_roc": first.metrics["auc_roc"],
        "model_path": first.model_path,
        "same_version": first.model_version == again.model_version,
        "scored": stats[0], "min_p": stats[1], "max_p": stats[2],
    }))
    spark.stop()
    """
)


def test_training_and_scoring_over_spark_connect(tmp_path: Path) -> None:
    """The same functions on a Spark Connect session (how Python models run on a cluster)."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1")
    result = subprocess.run(
        [sys.executable, "-c", CONNECT_SCRIPT, str(tmp_path / "warehouse")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["same_version"]
    assert out["scored"] == 4000
    assert 0 <= out["min_p"] <= out["max_p"] <= 1
    assert out["auc_roc"] > 0.7
    assert (tmp_path / "warehouse" / "ml_models" / "purchase_propensity").is_dir()
    assert np.isfinite(out["auc_roc"])
