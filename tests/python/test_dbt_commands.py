"""Everyday dbt commands and features on plain Parquet, embedded target (README "dbt on
open-source Spark").

Source freshness, `dbt show`, `dbt build --empty`, `dbt ls` with selectors, `state:modified+`
against a saved manifest, `dbt retry`, `dbt clone`, persist_docs comments and model versions,
each on the session's shared build (clean_project) or on a schema of its own, so the shared
tables are never changed. What only the metastore knows (comments, views) is read with
`DbtProject.catalog`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from tests.python.dbt_project import BUILD_MANIFEST, MARTS, REPO_ROOT, DbtProject, copy_of_project

DAY = 24 * 3600


def _freshness(project: DbtProject) -> tuple[int, dict[str, str]]:
    run = project.dbt("source", "freshness", "-s", "source:raw", check=False)
    results = json.loads((project.workdir / "target" / "sources.json").read_text())["results"]
    return run.returncode, {r["unique_id"].split(".")[-1]: r["status"] for r in results}


def test_source_freshness_follows_the_files_modification_time(clean_project: DbtProject) -> None:
    files = [p for p in (clean_project.generated_dir / "transactions").rglob("*") if p.is_file()]
    saved = {p: p.stat().st_mtime for p in files}
    try:
        code, status = _freshness(clean_project)
        assert (code, status) == (
            0,
            {"transactions": "pass", "customers": "pass", "merchants": "pass"},
        )
        for age_days, expected in ((3, "warn"), (10, "error")):
            for path in files:
                old = time.time() - age_days * DAY
                os.utime(path, (old, old))
            code, status = _freshness(clean_project)
            assert status["transactions"] == expected and status["customers"] == "pass"
            assert code == (1 if expected == "error" else 0)
    finally:
        for path, mtime in saved.items():
            os.utime(path, (mtime, mtime))


def test_show_returns_the_marts_rows(spark: SparkSession, clean_project: DbtProject) -> None:
    run = clean_project.dbt(
        "show", "-s", "rpt_sales_by_segment", "--output", "json", "--limit", "10"
    )
    shown = json.loads(run.stdout[run.stdout.index("{") : run.stdout.rindex("}") + 1])["show"]
    table = clean_project.read_table(spark, MARTS, "rpt_sales_by_segment").collect()
    assert {(r["purchase_segment"], r["transaction_count"]) for r in shown} == {
        (r.purchase_segment, r.transaction_count) for r in table
    }


@pytest.mark.slow  # a build of its own; --runslow
def test_build_empty_builds_every_model_without_rows(
    spark: SparkSession, clean_project: DbtProject
) -> None:
    empty = clean_project.in_schema("empty")
    selection = ("+rpt_sales_by_segment", "+dim_customers")
    empty.dbt("build", "--empty", "-s", *selection, "--exclude", "resource_type:test")
    results = json.loads((clean_project.workdir / "empty_target" / "run_results.json").read_text())
    built = {r["unique_id"].split(".")[-1]: r["status"] for r in results["results"]}
    assert {"rpt_sales_by_segment", "dim_customers", "fct_purchases"} <= set(built)
    assert set(built.values()) <= {"success", "pass"}  # models; unit tests
    for table in ("rpt_sales_by_segment", "dim_customers", "fct_purchases"):
        files = list(empty.table_path("empty_marts", table).rglob("*.parquet"))
        rows = spark.read.parquet(*map(str, files)).count() if files else 0
        assert rows == 0, table


def test_ls_selectors_list_the_folder_and_the_lineage(clean_project: DbtProject) -> None:
    # ls only parses: the shared project's runner and parse, rather than a runner of its own
    # that would take the shared one's place (warm_dbt.MAX_RUNNERS).
    marts = clean_project.dbt(
        "ls", "-s", "path:models/marts", "--resource-type", "model", "--output", "path", "-q"
    )
    on_disk = {
        str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "models" / "marts").rglob("*.sql")
    }
    assert set(marts.stdout.split()) == on_disk
    parents = clean_project.dbt(
        "ls", "-s", "+fct_purchases", "--resource-type", "model", "--output", "name", "-q"
    )
    assert {"stg_raw__transactions", "int_transactions_validated", "fct_purchases"} <= set(
        parents.stdout.split()
    )
    assert "dim_customers" not in parents.stdout.split()


def test_state_modified_selects_a_changed_model_and_its_children(tmp_path: Path) -> None:
    """Slim CI: the saved manifest is the project as it was; one model has changed since."""
    before = copy_of_project(tmp_path)
    model = before / "models" / "intermediate" / "int_purchases_segmented.sql"
    model.write_text(model.read_text().replace("select * from final", "select * from final -- v1"))
    # Same environment (DATA_DIR, and so the sources' locations) for both: only the model differs.
    # Parse and ls only: dbt processes, rather than runners that would take the shared
    # project's runner's place (warm_dbt.MAX_RUNNERS).
    DbtProject(tmp_path / "env", project_dir=before, warm=False).dbt("parse")
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy2(tmp_path / "env" / "target" / "manifest.json", state / "manifest.json")
    project = DbtProject(tmp_path / "env", warm=False)
    modified = project.dbt(
        "ls",
        "-s",
        "state:modified+",
        "--state",
        str(state),
        "--resource-type",
        "model",
        "--output",
        "name",
        "-q",
    )
    children = project.dbt(
        "ls", "-s", "int_purchases_segmented+", "--resource-type", "model", "--output", "name", "-q"
    )
    assert set(modified.stdout.split()) == set(children.stdout.split())
    assert {"int_purchases_segmented", "fct_purchases", "rpt_sales_by_segment"} <= set(
        children.stdout.split()
    )


@pytest.mark.slow  # three dbt runs; --runslow
def test_retry_reruns_only_what_failed(spark: SparkSession, clean_project: DbtProject) -> None:
    retry = clean_project.in_schema("retry")
    failed = retry.dbt("run", "-s", "rpt_sales_by_segment", check=False)  # its parents are missing
    assert failed.returncode == 1
    # Build the parents with another target dir, so the failed run's results stay for retry.
    parents = clean_project.in_schema("retry", target=clean_project.workdir / "retry_parents")
    parents.dbt(
        "build",
        "-s",
        "+rpt_sales_by_segment",
        "--exclude",
        "rpt_sales_by_segment",
        "resource_type:test",
    )
    rerun = retry.dbt("retry")
    assert "1 of 1 OK created sql table model retry_marts.rpt_sales_by_segment" in rerun.stdout
    assertions = retry.read_table(spark, "retry_marts", "rpt_sales_by_segment").count()
    assert assertions == clean_project.read_table(spark, MARTS, "rpt_sales_by_segment").count()


def _manifest_models(project: DbtProject) -> dict[str, dict]:
    """The shared build's models (other tests of the group rewrite target/manifest.json)."""
    manifest = json.loads((project.workdir / BUILD_MANIFEST).read_text())
    return {
        node["unique_id"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def _columns(described: list[dict]) -> dict[str, dict]:
    """`describe table extended` rows before the detail section, by column name."""
    columns: dict[str, dict] = {}
    for row in described:
        if not row["col_name"] or row["col_name"].startswith("#"):
            break
        columns[row["col_name"]] = row
    return columns


def _detail(described: list[dict], name: str) -> str:
    return next(row["data_type"] for row in described if row["col_name"] == name)


def test_persist_docs_writes_table_and_column_comments(clean_project: DbtProject) -> None:
    """What `describe` shows on the Thrift Server: the models' descriptions, from the metastore."""
    models = _manifest_models(clean_project)
    marts = sorted((node["alias"], node) for node in models.values() if node["schema"] == MARTS)
    assert marts, f"no model in schema {MARTS}"
    described = clean_project.catalog(
        *(f"describe table extended {MARTS}.{alias}" for alias, _ in marts)
    )
    for (alias, node), rows in zip(marts, described, strict=True):
        assert _detail(rows, "Comment").strip() == node["description"].strip(), alias
        # Partition columns included: the comments are written by the version's create.
        expected = {name: column["description"] for name, column in node["columns"].items()}
        comments = {name: row["comment"] for name, row in _columns(rows).items()}
        assert {name: comments[name] for name in expected} == expected, alias


def test_model_versions_both_built_and_the_latest_is_the_default_ref(
    clean_project: DbtProject,
) -> None:
    models = _manifest_models(clean_project)
    v1 = models["model.spark_analytics.dim_merchants.v1"]
    v2 = models["model.spark_analytics.dim_merchants.v2"]
    assert (v1["latest_version"], v2["latest_version"]) == (2, 2)
    assert (v1["alias"], v2["alias"]) == ("dim_merchants_v1", "dim_merchants")
    reader = models["model.spark_analytics.rpt_merchant_risk_profiles"]
    assert "model.spark_analytics.dim_merchants.v2" in reader["depends_on"]["nodes"]

    v2_columns = [name for name in v2["columns"] if name != "category_name"]
    renamed = ", ".join([*v2_columns, "category_name as category"])
    v1_columns = ", ".join([*v2_columns, "category"])
    latest, legacy = f"{MARTS}.dim_merchants", f"{MARTS}.dim_merchants_v1"
    described_v1, described_v2, counts = clean_project.catalog(
        f"describe table extended {legacy}",
        f"describe table extended {latest}",
        f"""select
              (select count(*) from {latest}) as latest_rows,
              (select count(*) from (select {renamed} from {latest}
                                     except all select {v1_columns} from {legacy})) as only_latest,
              (select count(*) from (select {v1_columns} from {legacy}
                                     except all select {renamed} from {latest})) as only_legacy""",
    )
    assert "category" in _columns(described_v1) and "category_name" not in _columns(described_v1)
    assert "category_name" in _columns(described_v2) and "category" not in _columns(described_v2)
    assert _detail(described_v1, "Type") == "VIEW"
    assert counts[0]["latest_rows"] > 0
    assert (counts[0]["only_latest"], counts[0]["only_legacy"]) == (0, 0)


def test_clone_as_a_view_or_as_a_parquet_copy(
    spark: SparkSession, clean_project: DbtProject, tmp_path: Path
) -> None:
    """A dev schema cloned from the shared build (the "production" state)."""
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy2(clean_project.workdir / BUILD_MANIFEST, state / "manifest.json")
    dev = clean_project.in_schema("dev", target=tmp_path / "target")
    dev.dbt("clone", "--state", str(state), "-s", "dim_customers")
    dev.dbt(
        "clone", "--state", str(state), "-s", "fct_purchases", dbt_vars={"clone_strategy": "copy"}
    )
    dev_view = "dev_marts.dim_customers"
    as_view, as_copy, differences = clean_project.catalog(
        "describe table extended dev_marts.dim_customers",
        "describe table extended dev_marts.fct_purchases",
        f"""select count(*) as n from (
              (select * from {MARTS}.dim_customers except all select * from {dev_view})
              union all
              (select * from {dev_view} except all select * from {MARTS}.dim_customers))""",
    )
    assert _detail(as_view, "View Text").strip() == f"select * from {MARTS}.dim_customers"
    assert _detail(as_copy, "View Text").startswith(
        "select * from dev_marts_versions.fct_purchases__v"
    )
    assert differences == [{"n": 0}]
    copied = dev.table_path("dev_marts", "fct_purchases")
    assert copied.parent.name == "dev_marts_versions.db"
    assertDataFrameEqual(
        spark.read.parquet(str(copied)),
        clean_project.read_table(spark, MARTS, "fct_purchases"),
        checkRowOrder=False,
    )
