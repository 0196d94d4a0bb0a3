"""The model quality gate (models/ml), in schemas of its own (test_ml_dbt.MlProject): a version
below the threshold is recorded but not promoted, the build warns and exits 0, scoring keeps the
last promoted model; with `ml_gate: error` the build fails.

The shared build's dataset. Build 1 (real labels) promotes version A. Build 2 trains on the
same data with the labels permuted (`ml_shuffle_labels`: no signal, AUC about 0.5): version B is
not promoted, the gate test warns, and the scores are A's. Then the gate test alone with
`ml_gate: error` exits non-zero.
"""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.python.dbt_project import DbtProject
from tests.python.test_ml_dbt import ML_BUILD, SCORES, TRAINING, MlProject

GATE_TEST = "ml_gate_latest_version_promoted"


def test_gate_keeps_promoted_model_and_warns(
    spark: SparkSession, clean_project: DbtProject
) -> None:
    ml = MlProject.beside(clean_project, "ml_gate")

    # Build 1: real labels -> version A, promoted, used for scoring.
    ml.dbt(*ML_BUILD)
    first = ml.read(spark, "ml", TRAINING).collect()
    assert len(first) == 1
    a = first[0]
    assert a["promoted"] is True and a["is_latest"] is True
    assert (a["gate_metric"], a["gate_threshold"]) == ("auc_roc", 0.7)
    assert a["gate_value"] == pytest.approx(a["auc_roc"]) and a["auc_roc"] > 0.7
    scores_a = ml.read(spark, "ml", SCORES).cache()
    assert scores_a.count() > 0
    assert [r[0] for r in scores_a.select("model_version").distinct().collect()] == [
        a["model_version"]
    ]

    # Build 2: no signal -> version B below the gate: not promoted, warns, exit 0, A scores.
    result = ml.dbt("build", "--select", "path:models/ml", ml_shuffle_labels=True)
    out = result.stdout
    assert f"WARN 1 {GATE_TEST}" in out or f"Warning in test {GATE_TEST}" in out, out[-4000:]
    assert "NOT promoted" in out and "auc_roc = 0." in out, out[-4000:]
    assert "ERROR=0" in out and "SKIP=0" in out, out[-2000:]
    history = {r["model_version"]: r for r in ml.read(spark, "ml", TRAINING).collect()}
    assert set(history) > {a["model_version"]} and len(history) == 2
    b = next(r for v, r in history.items() if v != a["model_version"])
    assert b["promoted"] is False and b["is_latest"] is True and b["auc_roc"] < 0.7
    assert history[a["model_version"]]["promoted"] is True
    assert history[a["model_version"]]["is_latest"] is False
    assertDataFrameEqual(ml.read(spark, "ml", SCORES), scores_a)

    # Teams that want a failing build: the same state with ml_gate: error exits non-zero.
    failed = ml.dbt("test", "--select", GATE_TEST, ml_gate="error", check=False)
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert f"FAIL 1 {GATE_TEST}" in failed.stdout or "Failure in test" in failed.stdout


def test_no_promoted_version_scores_nothing(spark: SparkSession) -> None:
    """Without dbt: a metrics table with no promoted version gives an empty score table."""
    from spark_analytics.ml.scoring import PREDICTION_COLUMNS, latest_promoted_model, score_promoted

    metrics = spark.createDataFrame(
        [("v1", "/nowhere", False, "auc_roc", 0.51, 0.7)],
        "model_version string, model_path string, promoted boolean, gate_metric string, "
        "gate_value double, gate_threshold double",
    ).withColumn("trained_at", F.current_timestamp())
    features = spark.createDataFrame(
        [("score", "c1")], "snapshot string, customer_id string"
    ).withColumn("as_of_date", F.current_date())
    assert latest_promoted_model(metrics) is None
    scores = score_promoted(metrics, features)
    assert tuple(scores.columns) == PREDICTION_COLUMNS
    assert scores.count() == 0
    assert dict(scores.dtypes)["probability"] == "double"
