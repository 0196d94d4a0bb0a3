"""The model quality gate (models/ml) on an isolated project: a version below the threshold is
recorded but not promoted, the build warns and exits 0, scoring keeps the last promoted model;
with `ml_gate: error` the build fails.

One small generated dataset. Build 1 (real labels) promotes version A. Build 2 trains on the
same data with the labels permuted (`ml_shuffle_labels`: no signal, AUC about 0.5): version B is
not promoted, the gate test warns, and the scores are A's. Then the gate test alone with
`ml_gate: error` exits non-zero.
"""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.python.dbt_project import ML, ROWS, SEED, DbtProject

TRAINING = "ml_purchase_propensity_training"
SCORES = "ml_purchase_propensity_scores"
GATE_TEST = "ml_gate_latest_version_promoted"
ML_BUILD = (
    "build", "--select", "+path:models/ml", "--resource-type", "seed", "--resource-type", "model",
)  # fmt: skip


def test_gate_keeps_promoted_model_and_warns(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = DbtProject(tmp_path_factory.mktemp("ml_gate"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED))

    # Build 1: real labels -> version A, promoted, used for scoring.
    project.dbt(*ML_BUILD)
    first = project.read_table(spark, ML, TRAINING).collect()
    assert len(first) == 1
    a = first[0]
    assert a["promoted"] is True and a["is_latest"] is True
    assert (a["gate_metric"], a["gate_threshold"]) == ("auc_roc", 0.7)
    assert a["gate_value"] == pytest.approx(a["auc_roc"]) and a["auc_roc"] > 0.7
    scores_a = project.read_table(spark, ML, SCORES).cache()
    assert scores_a.count() > 0
    assert [r[0] for r in scores_a.select("model_version").distinct().collect()] == [
        a["model_version"]
    ]

    # Build 2: no signal -> version B below the gate: not promoted, warns, exit 0, A scores.
    result = project.dbt(
        "build", "--select", "path:models/ml", dbt_vars={"ml_shuffle_labels": True}
    )
    out = result.stdout
    assert f"WARN 1 {GATE_TEST}" in out or f"Warning in test {GATE_TEST}" in out, out[-4000:]
    assert "NOT promoted" in out and "auc_roc = 0." in out, out[-4000:]
    assert "ERROR=0" in out and "SKIP=0" in out, out[-2000:]
    history = {r["model_version"]: r for r in project.read_table(spark, ML, TRAINING).collect()}
    assert set(history) > {a["model_version"]} and len(history) == 2
    b = next(r for v, r in history.items() if v != a["model_version"])
    assert b["promoted"] is False and b["is_latest"] is True and b["auc_roc"] < 0.7
    assert history[a["model_version"]]["promoted"] is True
    assert history[a["model_version"]]["is_latest"] is False
    assertDataFrameEqual(project.read_table(spark, ML, SCORES), scores_a)

    # Teams that want a failing build: the same state with ml_gate: error exits non-zero.
    failed = project.dbt("test", "--select", GATE_TEST, dbt_vars={"ml_gate": "error"}, check=False)
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
