"""Enforced model contracts on plain Parquet (adapters/dbt-spark-oss macros/constraints.sql).

A tiny project of its own: one table and one incremental model with `contract: {enforced:
true}`, typed columns, a `not_null`, a column `check` and a model-level `check`. A passing build
publishes; a violating build fails naming the constraint, the number of rows and sample keys, and
the previously published version stays; a column whose type differs from the contract fails at
build time (dbt's own check).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_analytics import warehouse
from tests.python.dbt_project import DbtProject
from tests.python.spark_oss_fixture import profile

SCHEMA = "fixture"
PROFILE = profile("contracts_fixture")

MODEL = """
select * from values
  (1, 'c1', 10.00),
  (2, 'c2', 1500.00)
  {%- if var('bad', false) %},
  (3, null, -5.00),
  (4, 'c4', -1.00)
  {%- endif %}
  as t(order_id, customer_id, amount)
"""

CONTRACT = """
version: 2
models:
  - name: {name}
    config:
      contract: {{enforced: true}}
      # The column docs go into the version's create: a contract error must stay dbt's own.
      persist_docs: {{relation: true, columns: true}}
    constraints:
      - type: check
        name: small_order_ids
        expression: "order_id < 1000"
      - type: primary_key
        columns: [order_id]
    columns:
      - name: order_id
        data_type: int
        constraints: [{{type: not_null}}]
      - name: customer_id
        data_type: string
        constraints: [{{type: not_null, name: customer_required}}]
      - name: amount
        data_type: "{amount_type}"
        description: "Order amount; it's checked."
        constraints: [{{type: check, name: amount_not_negative, expression: "amount >= 0"}}]
"""


def _project(root: Path, amount_type: str = "decimal(6,2)") -> DbtProject:
    files = {
        "dbt_project.yml": (
            'name: contracts_fixture\nversion: "1.0"\nconfig-version: 2\n'
            "profile: contracts_fixture\nmodels:\n  contracts_fixture:\n    +file_format: parquet\n"
        ),
        "profiles.yml": PROFILE,
        "models/orders.sql": "{{ config(materialized='table') }}\n" + MODEL,
        "models/orders_incremental.sql": (
            "{{ config(materialized='incremental', unique_key='order_id',"
            " on_schema_change='fail') }}\n" + MODEL
        ),
        "models/_models.yml": CONTRACT.format(name="orders", amount_type=amount_type)
        + CONTRACT.format(name="orders_incremental", amount_type=amount_type).split("models:\n", 1)[
            1
        ],
    }
    for name, text in files.items():
        path = root / "project" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return DbtProject(root, project_dir=root / "project")


def _rows(spark: SparkSession, project: DbtProject, model: str) -> int:
    path = warehouse.table_path(project.state_dir / "warehouse", SCHEMA, model)
    return spark.read.parquet(str(path)).count()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = _project(tmp_path_factory.mktemp("contracts_enforced"))
    project.dbt("run")
    return project


def test_a_passing_build_is_published(spark: SparkSession, built: DbtProject) -> None:
    assert _rows(spark, built, "orders") == 2
    assert _rows(spark, built, "orders_incremental") == 2


def test_a_violating_build_fails_and_keeps_the_previous_version(
    spark: SparkSession, built: DbtProject
) -> None:
    run = built.dbt("run", dbt_vars={"bad": True}, check=False)
    assert run.returncode == 1
    for model in ("orders", "orders_incremental"):
        assert f"Contract of {model} violated, nothing published" in run.stdout
        assert _rows(spark, built, model) == 2  # the previous version, unchanged
    assert "customer_required (customer_id is not null): 1 rows, e.g. order_id = 3" in run.stdout
    amounts = r"amount_not_negative \(amount >= 0\): 2 rows, e\.g\. order_id = (3, 4|4, 3)"
    assert re.search(amounts, run.stdout)
    assert "small_order_ids" not in run.stdout  # satisfied
    results = json.loads((built.workdir / "target" / "run_results.json").read_text())
    assert {r["status"] for r in results["results"]} == {"error"}


def test_a_column_type_that_breaks_the_contract_fails_the_build(tmp_path: Path) -> None:
    project = _project(tmp_path, amount_type="bigint")
    run = project.dbt("run", "-s", "orders", check=False)
    assert run.returncode == 1
    assert "This model has an enforced contract that failed" in run.stdout, run.stdout[-3000:]
    assert re.search(r"\|\s*amount\s*\|\s*decimal\(6,2\)\s*\|\s*bigint\s*\|", run.stdout), (
        run.stdout[-3000:]
    )


# Rows whose customer is missing are dropped by the join on the region, in the same query: they
# never reach the table, so the not_null contract holds for what is written.
JOINED_MODEL = """
{{ config(materialized='table') }}
with orders as (
  select * from values (1, 'c1', 'eu'), (2, null, 'mars') as t(order_id, customer_id, region)
),
regions as (
  select * from values ('eu') as r(region)
)
select orders.order_id, orders.customer_id
from orders
inner join regions on orders.region = regions.region
"""

JOINED_CONTRACT = """
version: 2
models:
  - name: orders_in_regions
    config:
      contract: {enforced: true}
    columns:
      - name: order_id
        data_type: int
      - name: customer_id
        data_type: string
        constraints: [{type: not_null}]
"""


def test_the_contract_is_checked_on_the_rows_written_in_the_same_pass(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The create checks every row it writes (no second read of the version) and only those: a
    row the query itself drops later (here by a join) breaks nothing."""
    project = _project(tmp_path)
    (project.project_dir / "models" / "orders_in_regions.sql").write_text(JOINED_MODEL)
    (project.project_dir / "models" / "_joined.yml").write_text(JOINED_CONTRACT)
    project.dbt("run", "-s", "orders_in_regions")
    assert _rows(spark, project, "orders_in_regions") == 1
    log = (project.workdir / "logs" / "dbt.log").read_text()
    create = re.search(r"create table \S+orders_in_regions__v\d+.*?(?=\n\S)", log, re.S)
    assert create and "raise_error('SPARK_OSS_CONTRACT_VIOLATION" in create.group(0)
    assert "count_if(" not in log  # the violations are counted only after a create failed
