"""The dbt ML models (models/ml) on an isolated project, against the Python functions.

One small generated dataset; `dbt run` of the ML models and their parents, `dbt test` of the ML
models (probability range, one score per customer, AUC threshold...). The SQL feature and label
models must equal spark_analytics.ml.features / labels on the same marts; reruns must be
idempotent; a new cut-off adds a model version that scoring then uses.
"""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.ml.features import customer_features, snapshot_dates
from spark_analytics.ml.labels import customer_labels
from tests.python.dbt_project import DbtProject

ROWS = 20_000
SEED = 7
ML = "analytics_ml"
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
TRAINING = "ml_purchase_propensity_training"
SCORES = "ml_purchase_propensity_scores"


@pytest.fixture(scope="module")
def ml_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("ml_project"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED))
    project.dbt(*ML_BUILD)
    project.dbt("test", "--select", "path:models/ml")
    return project


def marts(spark: SparkSession, project: DbtProject) -> tuple[DataFrame, DataFrame, DataFrame]:
    return (
        project.read_table(spark, "analytics_marts", "fct_purchases"),
        project.read_table(spark, "analytics_reference", "merchant_categories"),
        project.read_table(spark, "analytics_marts", "dim_customers"),
    )


def test_sql_features_and_labels_equal_python_functions(
    spark: SparkSession, ml_project: DbtProject
) -> None:
    purchases, categories, customers = marts(spark, ml_project)
    snapshots = snapshot_dates(purchases)
    features = customer_features(purchases, snapshots, categories, customers)
    labels = customer_labels(features, purchases, snapshots)

    assertDataFrameEqual(ml_project.read_table(spark, ML, "ml_snapshot_dates"), snapshots)
    sql_features = ml_project.read_table(spark, ML, "ml_customer_features")
    assertDataFrameEqual(sql_features.select(*features.columns), features, rtol=1e-9)
    sql_labels = ml_project.read_table(spark, ML, "ml_customer_labels")
    assertDataFrameEqual(sql_labels.select(*labels.columns), labels)


def test_metrics_and_scores(spark: SparkSession, ml_project: DbtProject) -> None:
    metrics = ml_project.read_table(spark, ML, TRAINING).collect()
    assert len(metrics) == 1
    row = metrics[0]
    assert row["auc_roc"] > 0.7
    assert row["rows_trained"] > 0 and row["rows_tested"] > 0
    assert (ml_project.state_dir / "warehouse" / "ml_models" / "purchase_propensity").is_dir()
    assert row["model_path"].rstrip("/").endswith(f"purchase_propensity/{row['model_version']}")

    scores = ml_project.read_table(spark, ML, SCORES)
    score_customers = (
        ml_project.read_table(spark, ML, "ml_customer_features")
        .where(F.col("snapshot") == "score")
        .select("customer_id")
    )
    assertDataFrameEqual(scores.select("customer_id"), score_customers)
    assert scores.where(~F.col("probability").between(0, 1)).count() == 0
    assert {r[0] for r in scores.select("model_version").distinct().collect()} == {
        row["model_version"]
    }


def test_rerun_is_idempotent_and_new_cutoff_adds_a_version(
    spark: SparkSession, ml_project: DbtProject
) -> None:
    models_dir = ml_project.state_dir / "warehouse" / "ml_models" / "purchase_propensity"
    first = ml_project.read_table(spark, ML, TRAINING).collect()[0]

    ml_project.dbt("run", "--select", TRAINING, SCORES)
    rerun = ml_project.read_table(spark, ML, TRAINING).collect()
    assert [r["model_version"] for r in rerun] == [first["model_version"]]
    assert rerun[0]["auc_roc"] == pytest.approx(first["auc_roc"])
    assert [p.name for p in models_dir.iterdir()] == [first["model_version"]]

    earlier = {"ml_cutoff_date": "2026-05-15"}
    ml_project.dbt("run", "--select", "path:models/ml", dbt_vars=earlier)
    ml_project.dbt("test", "--select", "path:models/ml", dbt_vars=earlier)
    history = ml_project.read_table(spark, ML, TRAINING)
    assert history.count() == 2
    newest = history.orderBy(F.desc("trained_at")).first()
    assert newest["model_version"] != first["model_version"]
    assert str(newest["test_as_of_date"]) == "2026-05-15"
    assert sorted(p.name for p in models_dir.iterdir()) == sorted(
        [first["model_version"], newest["model_version"]]
    )
    versions = ml_project.read_table(spark, ML, SCORES).select("model_version").distinct()
    assert [r[0] for r in versions.collect()] == [newest["model_version"]]
