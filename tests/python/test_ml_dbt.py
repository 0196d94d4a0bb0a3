"""The dbt ML models (models/ml) against the Python functions.

On the shared build's data (conftest.py `clean_project`), in schemas of their own (MlProject):
the ML models and their parents are built, then the ML models again with their data tests
(probability range, one score per customer, AUC threshold...), which must change nothing. The
SQL feature and label models must equal spark_analytics.ml.features / labels on the same marts;
reruns must be idempotent; a new cut-off adds a model version that scoring then uses.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics.ml.features import customer_features, snapshot_dates
from spark_analytics.ml.labels import customer_labels
from tests.python.dbt_project import DbtProject

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
    """The ML models and their parents in schemas of their own (``<DBT_SCHEMA>_*``), on the shared
    build's data (ROWS, SEED) and in its warm runner; their models saved in a folder of their own
    (var ml_model_root). New model versions here leave the shared build's as they are."""

    project: DbtProject
    models_dir: Path
    first_metrics: tuple[Row, ...] = ()  # the training table after the first run

    @classmethod
    def beside(cls, clean_project: DbtProject, schema: str) -> MlProject:
        models_dir = clean_project.workdir / f"{schema}_models" / "purchase_propensity"
        return cls(clean_project.in_schema(schema), models_dir)

    def dbt(
        self, *args: str, check: bool = True, **dbt_vars: object
    ) -> subprocess.CompletedProcess[str]:
        dbt_vars = {"ml_model_root": str(self.models_dir), **dbt_vars}
        return self.project.dbt(*args, dbt_vars=dbt_vars, check=check)

    def read(self, spark: SparkSession, folder: str, table: str) -> DataFrame:
        return self.project.read_table(spark, self.project.schema(folder), table)


@pytest.fixture(scope="module")
def ml_project(spark: SparkSession, clean_project: DbtProject) -> MlProject:
    ml = MlProject.beside(clean_project, "ml_suite")
    ml.dbt(*ML_BUILD)
    first = tuple(ml.read(spark, "ml", TRAINING).collect())
    # The ML models again, with their data tests: a rerun on the same data must change nothing.
    ml.dbt("build", "--select", "path:models/ml")
    return replace(ml, first_metrics=first)


def marts(spark: SparkSession, ml: MlProject) -> tuple[DataFrame, DataFrame, DataFrame]:
    return (
        ml.read(spark, "marts", "fct_purchases"),
        ml.read(spark, "reference", "merchant_categories"),
        ml.read(spark, "marts", "dim_customers"),
    )


def test_sql_features_and_labels_equal_python_functions(
    spark: SparkSession, ml_project: MlProject
) -> None:
    purchases, categories, customers = marts(spark, ml_project)
    snapshots = snapshot_dates(purchases)
    features = customer_features(purchases, snapshots, categories, customers)
    labels = customer_labels(features, purchases, snapshots)

    assertDataFrameEqual(ml_project.read(spark, "ml", "ml_snapshot_dates"), snapshots)
    sql_features = ml_project.read(spark, "ml", "ml_customer_features")
    assertDataFrameEqual(sql_features.select(*features.columns), features, rtol=1e-9)
    sql_labels = ml_project.read(spark, "ml", "ml_customer_labels")
    assertDataFrameEqual(sql_labels.select(*labels.columns), labels)


def test_metrics_and_scores(spark: SparkSession, ml_project: MlProject) -> None:
    metrics = ml_project.read(spark, "ml", TRAINING).collect()
    assert len(metrics) == 1
    row = metrics[0]
    assert row["auc_roc"] > 0.7
    assert row["rows_trained"] > 0 and row["rows_tested"] > 0
    assert ml_project.models_dir.is_dir()
    assert row["model_path"].rstrip("/").endswith(f"purchase_propensity/{row['model_version']}")

    scores = ml_project.read(spark, "ml", SCORES)
    score_customers = (
        ml_project.read(spark, "ml", "ml_customer_features")
        .where(F.col("snapshot") == "score")
        .select("customer_id")
    )
    assertDataFrameEqual(scores.select("customer_id"), score_customers)
    assert scores.where(~F.col("probability").between(0, 1)).count() == 0
    assert {r[0] for r in scores.select("model_version").distinct().collect()} == {
        row["model_version"]
    }


def test_models_are_saved_in_the_warehouse_by_default(
    spark: SparkSession, clean_project: DbtProject
) -> None:
    """The shared build sets no ml_model_root: <spark.sql.warehouse.dir>/ml_models/<name>."""
    default_root = clean_project.state_dir / "warehouse" / "ml_models" / "purchase_propensity"
    trained = clean_project.read_table(spark, clean_project.schema("ml"), TRAINING).collect()
    assert trained
    for row in trained:
        assert row["model_path"].rstrip("/").endswith(str(default_root / row["model_version"]))
    assert sorted(p.name for p in default_root.iterdir()) == sorted(
        row["model_version"] for row in trained
    )


def test_rerun_is_idempotent(spark: SparkSession, ml_project: MlProject) -> None:
    first = ml_project.first_metrics
    rerun = ml_project.read(spark, "ml", TRAINING).collect()
    assert [r["model_version"] for r in rerun] == [r["model_version"] for r in first]
    assert rerun[0]["auc_roc"] == pytest.approx(first[0]["auc_roc"])
    assert [p.name for p in ml_project.models_dir.iterdir()] == [first[0]["model_version"]]


def test_new_cutoff_adds_a_version_that_scoring_uses(
    spark: SparkSession, ml_project: MlProject
) -> None:
    first_version = ml_project.first_metrics[0]["model_version"]
    ml_project.dbt("build", "--select", "path:models/ml", **EARLIER_CUTOFF)
    history = ml_project.read(spark, "ml", TRAINING)
    assert history.count() == 2
    newest = history.orderBy(F.desc("trained_at")).first()
    assert newest["model_version"] != first_version
    assert str(newest["test_as_of_date"]) == EARLIER_CUTOFF["ml_cutoff_date"]
    assert sorted(p.name for p in ml_project.models_dir.iterdir()) == sorted(
        [first_version, newest["model_version"]]
    )
    versions = ml_project.read(spark, "ml", SCORES).select("model_version").distinct()
    assert [r[0] for r in versions.collect()] == [newest["model_version"]]
