"""The dbt ML models (models/ml) on an isolated project, against the Python functions.

One small generated dataset: the ML models and their parents are built, then the ML models
again with their data tests (probability range, one score per customer, AUC threshold...),
which must change nothing. The SQL feature and label
models must equal spark_analytics.ml.features / labels on the same marts; reruns must be
idempotent; a new cut-off adds a model version that scoring then uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.ml.features import customer_features, snapshot_dates
from spark_analytics.ml.labels import customer_labels
from tests.python.dbt_project import MARTS, ML, REFERENCE, ROWS, SEED, DbtProject

# Seeds and models the ML models need; then the ML models' own data tests.
ML_BUILD = (
    "build",
    "--select",
    "+path:models/ml",
    "--resource-type",
    "seed",
    "--resource-type",
    "model",
)
EARLIER_CUTOFF = {"ml_cutoff_date": "2026-05-15"}
TRAINING = "ml_purchase_propensity_training"
SCORES = "ml_purchase_propensity_scores"


@dataclass(frozen=True)
class MlProject:
    project: DbtProject
    first_metrics: list[Row]  # the training table after the first run

    @property
    def models_dir(self) -> Path:
        return self.project.state_dir / "warehouse" / "ml_models" / "purchase_propensity"


@pytest.fixture(scope="module")
def ml_project(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> MlProject:
    project = DbtProject(tmp_path_factory.mktemp("ml_project"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED))
    project.dbt(*ML_BUILD)
    first = project.read_table(spark, ML, TRAINING).collect()
    # The ML models again, with their data tests: a rerun on the same data must change nothing.
    project.dbt("build", "--select", "path:models/ml")
    return MlProject(project, first)


def marts(spark: SparkSession, project: DbtProject) -> tuple[DataFrame, DataFrame, DataFrame]:
    return (
        project.read_table(spark, MARTS, "fct_purchases"),
        project.read_table(spark, REFERENCE, "merchant_categories"),
        project.read_table(spark, MARTS, "dim_customers"),
    )


def test_sql_features_and_labels_equal_python_functions(
    spark: SparkSession, ml_project: MlProject
) -> None:
    project = ml_project.project
    purchases, categories, customers = marts(spark, project)
    snapshots = snapshot_dates(purchases)
    features = customer_features(purchases, snapshots, categories, customers)
    labels = customer_labels(features, purchases, snapshots)

    assertDataFrameEqual(project.read_table(spark, ML, "ml_snapshot_dates"), snapshots)
    sql_features = project.read_table(spark, ML, "ml_customer_features")
    assertDataFrameEqual(sql_features.select(*features.columns), features, rtol=1e-9)
    sql_labels = project.read_table(spark, ML, "ml_customer_labels")
    assertDataFrameEqual(sql_labels.select(*labels.columns), labels)


def test_metrics_and_scores(spark: SparkSession, ml_project: MlProject) -> None:
    project = ml_project.project
    metrics = project.read_table(spark, ML, TRAINING).collect()
    assert len(metrics) == 1
    row = metrics[0]
    assert row["auc_roc"] > 0.7
    assert row["rows_trained"] > 0 and row["rows_tested"] > 0
    assert ml_project.models_dir.is_dir()
    assert row["model_path"].rstrip("/").endswith(f"purchase_propensity/{row['model_version']}")

    scores = project.read_table(spark, ML, SCORES)
    score_customers = (
        project.read_table(spark, ML, "ml_customer_features")
        .where(F.col("snapshot") == "score")
        .select("customer_id")
    )
    assertDataFrameEqual(scores.select("customer_id"), score_customers)
    assert scores.where(~F.col("probability").between(0, 1)).count() == 0
    assert {r[0] for r in scores.select("model_version").distinct().collect()} == {
        row["model_version"]
    }


def test_rerun_is_idempotent(spark: SparkSession, ml_project: MlProject) -> None:
    first = ml_project.first_metrics
    rerun = ml_project.project.read_table(spark, ML, TRAINING).collect()
    assert [r["model_version"] for r in rerun] == [r["model_version"] for r in first]
    assert rerun[0]["auc_roc"] == pytest.approx(first[0]["auc_roc"])
    assert [p.name for p in ml_project.models_dir.iterdir()] == [first[0]["model_version"]]


def test_new_cutoff_adds_a_version_that_scoring_uses(
    spark: SparkSession, ml_project: MlProject
) -> None:
    project = ml_project.project
    first_version = ml_project.first_metrics[0]["model_version"]
    project.dbt("build", "--select", "path:models/ml", dbt_vars=EARLIER_CUTOFF)
    history = project.read_table(spark, ML, TRAINING)
    assert history.count() == 2
    newest = history.orderBy(F.desc("trained_at")).first()
    assert newest["model_version"] != first_version
    assert str(newest["test_as_of_date"]) == EARLIER_CUTOFF["ml_cutoff_date"]
    assert sorted(p.name for p in ml_project.models_dir.iterdir()) == sorted(
        [first_version, newest["model_version"]]
    )
    versions = project.read_table(spark, ML, SCORES).select("model_version").distinct()
    assert [r[0] for r in versions.collect()] == [newest["model_version"]]
