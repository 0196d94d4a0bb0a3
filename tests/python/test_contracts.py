"""Every reader of the rejection-reason contract agrees with it (docs/contracts.md).

The contract is the var ``rejection_reasons`` in dbt_project.yml, read here through
``spark_analytics.contracts``. Checked against it: the CASE order dbt compiles for the staging
models and int_transactions_validated, the stream ingest's ``when`` chain, the generator's
injected reasons and the compiled ``accepted_values`` lists. Also: the bronze and quarantine
event columns in ingest's DDL equal the ``events`` source in ``_events__sources.yml``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_analytics import contracts
from spark_analytics.contracts import rejection_reasons
from tests.python.dbt_project import REPO_ROOT, DbtProject

# model -> (entity, stages) whose checks its CASE expressions render, in order
CASE_MODELS = {
    "stg_raw__transactions": ("transactions", ("row",)),
    "stg_raw__customers": ("customers", ("row", "dedup")),
    "stg_raw__merchants": ("merchants", ("row", "dedup")),
    "int_transactions_validated": ("transactions", ("reference", "dedup")),
}
# (model or source table, column) -> (entity, stages or None for all) its accepted_values hold.
# Staging and int_transactions_validated have none: their reasons are the CASE literals above,
# published unchanged in the quarantine (test_project_structure.py).
ACCEPTED_VALUES = {
    ("quarantine_transactions", "rejection_reason"): ("transactions", None),
    ("quarantine_customers", "rejection_reason"): ("customers", None),
    ("quarantine_merchants", "rejection_reason"): ("merchants", None),
    ("quarantine_events", "reason"): ("transactions", "row"),
}
EVENTS_SOURCES = REPO_ROOT / "models" / "staging" / "events" / "_events__sources.yml"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """`dbt compile` of the contract's SQL readers and their tests, in isolated state."""
    project = DbtProject(tmp_path_factory.mktemp("contracts"))
    project.generate("--rows", "200", "--seed", "7")
    selection = [*CASE_MODELS, "quarantine_transactions", "quarantine_customers"]
    selection += ["quarantine_merchants", "source:events.quarantine_events"]
    project.dbt("compile", "-s", *selection, "--exclude", "resource_type:unit_test")
    target = project.workdir / "target"
    return target, json.loads((target / "manifest.json").read_text())


def compiled_sql(target: Path, node: dict) -> str:
    assert node.get("compiled_code"), f"{node['unique_id']} was not compiled (target {target})"
    return node["compiled_code"]


def model_node(manifest: dict, name: str) -> dict:
    (node,) = [
        n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name
    ]
    return node


def test_the_contract_is_well_formed() -> None:
    for entity in ("transactions", "customers", "merchants"):
        checks = contracts.dbt_var("rejection_reasons")[entity]
        reasons = [check["reason"] for check in checks]
        assert len(reasons) == len(set(reasons)), f"{entity}: a reason twice"
        stages = [contracts.STAGES.index(check["stage"]) for check in checks]
        assert stages == sorted(stages), f"{entity}: stages out of order (row, reference, dedup)"
        assert reasons[0] == "malformed_row"


@pytest.mark.parametrize("model", sorted(CASE_MODELS))
def test_compiled_case_order_is_the_contracts(compiled: tuple[Path, dict], model: str) -> None:
    target, manifest = compiled
    sql = compiled_sql(target, model_node(manifest, model))
    rendered = re.findall(r"\bthen\s+'([a-z_]+)'", sql)
    entity, stages = CASE_MODELS[model]
    assert tuple(rendered) == rejection_reasons(entity, stages)


def test_ingest_checks_in_the_contracts_row_order(spark: SparkSession) -> None:
    from spark_analytics.streaming.ingest import rejection_reason

    chained = re.findall(r"THEN\s+'?([a-z_]+)'?", str(rejection_reason()))
    assert tuple(chained) == rejection_reasons("transactions", "row")


def test_ingest_first_failing_check_wins(spark: SparkSession) -> None:
    from spark_analytics.streaming.ingest import classify_lines

    lines = spark.createDataFrame(
        [
            (
                '{"customer_id": "c1", "merchant_id": "m1", "purchase_amount": "-1",'
                ' "event_time": "2024-01-01 10:00:00"}',
                "a.json",
            ),
            (
                '{"transaction_id": "t2", "customer_id": "c1", "merchant_id": "m1",'
                ' "purchase_amount": "abc", "event_time": "never"}',
                "a.json",
            ),
        ],
        "raw_line string, source_file string",
    )
    reasons = [row.reason for row in classify_lines(lines).collect()]
    assert reasons == ["missing_transaction_id", "non_numeric_amount"]


def generator_reasons() -> set[str]:
    try:  # the generator is a package spark_analytics.datagen (formerly flat modules)
        from spark_analytics.datagen import badrows
    except ImportError:
        from spark_analytics import datagen_badrows as badrows
    return {*badrows.TEXT_REASONS, *badrows.PARQUET_REASONS}


def test_generator_injects_only_contract_reasons() -> None:
    injected = generator_reasons()
    assert injected, "the generator injects no reasons?"
    assert injected <= set(rejection_reasons("transactions"))


def test_accepted_values_are_the_contracts(compiled: tuple[Path, dict]) -> None:
    target, manifest = compiled
    found = {}
    for node in manifest["nodes"].values():
        metadata = node.get("test_metadata") or {}
        if metadata.get("name") != "accepted_values":
            continue
        tested = node["sources"][0][-1] if node["sources"] else node["attached_node"]
        key = (tested.split(".")[-1], node["column_name"])
        if key not in ACCEPTED_VALUES:
            continue
        sql = compiled_sql(target, node)
        (values,) = re.findall(r"not in \(\s*(.*?)\s*\)", sql, re.S)
        found[key] = tuple(re.findall(r"'([a-z_]+)'", values))
    expected = {
        k: rejection_reasons(*entity_stages) for k, entity_stages in ACCEPTED_VALUES.items()
    }
    assert found == expected


def ddl_columns(ddl: str) -> list[tuple[str, str]]:
    return [tuple(part.split()) for part in ddl.split(",") if part.strip()]


def source_columns(table: str) -> tuple[list[tuple[str, str]], list[str]]:
    (source,) = yaml.safe_load(EVENTS_SOURCES.read_text())["sources"]
    (node,) = [t for t in source["tables"] if t["name"] == table]
    columns = [(c["name"], c["data_type"]) for c in node["columns"]]
    return columns, node["meta"]["create_if_missing"]["partitioned_by"]


@pytest.mark.parametrize("table", ["bronze_transactions", "quarantine_events"])
def test_event_tables_agree_with_the_ingest_ddl(table: str) -> None:
    from spark_analytics.streaming import ingest

    ddl, partitions = {
        "bronze_transactions": (ingest.BRONZE_DDL, ingest.BRONZE_PARTITIONS),
        "quarantine_events": (ingest.QUARANTINE_DDL, ingest.QUARANTINE_PARTITIONS),
    }[table]
    columns, partitioned_by = source_columns(table)
    assert columns == ddl_columns(ddl)
    assert tuple(partitioned_by) == tuple(partitions)


# Spark's cast reads these words as dates; as event times they would depend on the day of the run.
SPECIAL_DATETIME_WORDS = ["yesterday", " today", "now", "tomorrow", "epoch", "Yesterday UTC"]


def test_staging_and_ingest_read_the_same_text_as_datetimes(
    spark: SparkSession, compiled: tuple[Path, dict]
) -> None:
    from spark_analytics.streaming.ingest import parse_datetime

    target, manifest = compiled
    sql = compiled_sql(target, model_node(manifest, "stg_raw__transactions"))
    # Staging's own expression for event_time, as compiled, applied to a column named text.
    match = re.search(r"(case\s+when trim\(event_time\) rlike .*?end)\s+as event_time", sql, re.S)
    assert match, "stg_raw__transactions does not parse event_time through parse_datetime"
    staging_expression = match.group(1).replace("event_time", "text")
    texts = ["2024-03-01 10:15:00", "2024-03-01", "+2024-03-01", *SPECIAL_DATETIME_WORDS]
    frame = spark.createDataFrame([(t,) for t in texts], "text string")
    from_sql = frame.select("text", F.expr(staging_expression).alias("parsed"))
    from_python = frame.select("text", parse_datetime(F.trim("text")).alias("parsed"))
    assertDataFrameEqual(from_python, from_sql)
    parsed = {row.text: row.parsed for row in from_python.collect()}
    assert all(parsed[word] is None for word in SPECIAL_DATETIME_WORDS)
    assert parsed["2024-03-01"] is not None and parsed["2024-03-01 10:15:00"] is not None
    customers = compiled_sql(target, model_node(manifest, "stg_raw__customers"))
    assert f"trim(signup_date) rlike '{contracts.dbt_var('datetime_text_pattern')}'" in customers
