"""The project's structure rules (a dbt_project_evaluator-style check, docs/contracts.md).

Over ``target/manifest.json`` of a ``dbt parse`` in isolated state: every model's name has its
folder's prefix, every layer reads only the layers allowed below (marts never read staging),
snapshots (``snp_``) read only the accepted entities, every model and snapshot states its grain,
a contracted model states each value rule once (as a constraint, not also as a data test), every
primary key is tested unique and checked not null. Over the YAML files (models/ and snapshots/):
unique names, generic test arguments always under ``arguments:``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.python.dbt_project import REPO_ROOT, DbtProject

# folder under models/ -> (name pattern, the layers its models may read)
LAYERS = {
    "staging": (r"stg_[a-z0-9]+__[a-z0-9_]+", {"source"}),
    "intermediate": (r"int_[a-z0-9_]+", {"staging", "intermediate", "seed"}),
    "quarantine": (r"quarantine_[a-z0-9_]+", {"staging", "intermediate"}),
    "marts": (r"(fct|dim|rpt)_[a-z0-9_]+", {"intermediate", "marts", "seed"}),
    "ml": (r"ml_[a-z0-9_]+", {"marts", "ml", "seed"}),
}
# Snapshots (snapshots/): their name pattern and the layers they may read (accepted entities).
SNAPSHOTS = (r"snp_[a-z0-9_]+", {"intermediate"})
# ... plus the one exposures file, models/_exposures.yml (consumers of the models), and the one
# snapshots file, snapshots/_snapshots.yml.
YAML_NAME = re.compile(r"_[a-z0-9_]+__(models|sources)\.yml|_exposures\.yml|_snapshots\.yml")
TEST_KEYS = {"arguments", "config", "name", "description"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = DbtProject(tmp_path_factory.mktemp("structure"))
    project.dbt("parse")
    return json.loads((project.workdir / "target" / "manifest.json").read_text())


def layer_of(node: dict) -> str:
    if node["resource_type"] in ("source", "seed"):
        return node["resource_type"]
    return Path(node["original_file_path"]).parts[1]


def models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def test_every_folder_is_a_known_layer(manifest: dict) -> None:
    unknown = {n["name"]: layer_of(n) for n in models(manifest) if layer_of(n) not in LAYERS}
    assert not unknown, f"models outside the known layers {sorted(LAYERS)}: {unknown}"


def test_model_names_have_their_folders_prefix(manifest: dict) -> None:
    wrong = [
        f"{n['original_file_path']}: {n['name']} does not match {LAYERS[layer_of(n)][0]}"
        for n in models(manifest)
        if layer_of(n) in LAYERS and not re.fullmatch(LAYERS[layer_of(n)][0], n["name"])
    ]
    assert not wrong, "\n".join(wrong)


def test_each_layer_reads_only_the_layers_it_may(manifest: dict) -> None:
    everything = {**manifest["nodes"], **manifest["sources"]}
    wrong = []
    for node in models(manifest):
        allowed = LAYERS.get(layer_of(node), ("", set()))[1]
        for parent_id in node["depends_on"]["nodes"]:
            parent = everything[parent_id]
            if layer_of(parent) not in allowed:
                wrong.append(
                    f"{node['name']} ({layer_of(node)}) reads {parent['name']} "
                    f"({layer_of(parent)}); allowed: {sorted(allowed)}"
                )
    assert not wrong, "\n".join(wrong)


def test_only_the_accepted_models_filter_staging_on_rejection_reason() -> None:
    """Accepted rows are defined once (int_*_accepted), not re-filtered by every reader."""
    readers = []
    for path in (REPO_ROOT / "models").rglob("*.sql"):
        sql = path.read_text()
        if "ref('stg_" in sql and re.search(r"\bwhere\s+rejection_reason\s+is\s+null", sql):
            readers.append(path.stem)
    assert sorted(readers) == ["int_customers_accepted", "int_merchants_accepted"]


def snapshots(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "snapshot"]


def test_snapshots_are_named_and_read_only_the_accepted_entities(manifest: dict) -> None:
    pattern, allowed = SNAPSHOTS
    wrong = [n["name"] for n in snapshots(manifest) if not re.fullmatch(pattern, n["name"])]
    everything = {**manifest["nodes"], **manifest["sources"]}
    for node in snapshots(manifest):
        for parent_id in node["depends_on"]["nodes"]:
            if layer_of(everything[parent_id]) not in allowed:
                wrong.append(f"{node['name']} reads {everything[parent_id]['name']}")
    assert not wrong, wrong


def test_every_model_states_its_grain(manifest: dict) -> None:
    missing = [
        n["name"]
        for n in models(manifest) + snapshots(manifest)
        if "grain" not in n["description"].lower()
    ]
    assert not missing, f"models whose description does not state the grain: {missing}"


def yaml_files() -> list[Path]:
    return sorted(
        [*(REPO_ROOT / "models").rglob("*.yml"), *(REPO_ROOT / "snapshots").rglob("*.yml")]
    )


def test_yaml_file_names_are_unique_and_conventional() -> None:
    names = [p.name for p in yaml_files()]
    assert len(names) == len(set(names)), f"duplicate YAML file names: {sorted(names)}"
    wrong = [n for n in names if not YAML_NAME.fullmatch(n)]
    assert not wrong, f"not _<dir>__models.yml / _<source>__sources.yml: {wrong}"


def generic_tests(document: dict):
    """(where, test entry) for every data test in a properties file, at every level."""

    def tests_of(owner: dict, where: str):
        for test in owner.get("data_tests", []) or []:
            yield where, test
        for column in owner.get("columns", []) or []:
            yield from tests_of(column, f"{where}.{column['name']}")

    for kind in ("models", "seeds", "snapshots"):
        for node in document.get(kind, []) or []:
            yield from tests_of(node, node["name"])
    for source in document.get("sources", []) or []:
        yield from tests_of(source, source["name"])
        for table in source.get("tables", []) or []:
            yield from tests_of(table, f"{source['name']}.{table['name']}")


def test_generic_test_arguments_use_one_syntax() -> None:
    """dbt 1.11: a generic test's arguments go under `arguments:`, never at the top level."""
    wrong = []
    for path in yaml_files():
        document = yaml.safe_load(path.read_text()) or {}
        for where, test in generic_tests(document):
            if isinstance(test, dict):
                ((name, body),) = test.items()
                extra = set(body or {}) - TEST_KEYS
                if extra:
                    wrong.append(f"{path.relative_to(REPO_ROOT)}: {where} {name} {sorted(extra)}")
    assert not wrong, "arguments outside `arguments:`\n" + "\n".join(wrong)


# Value rules a contract enforces before publishing (adapters/dbt-spark-oss constraints.sql: one
# query per model); on a contracted model the same rule as a data test would be a second place.
VALUE_TESTS = {"not_null", "accepted_values", "within_range", "expression_is_true"}


def data_tests_of(manifest: dict, model: dict) -> list[dict]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n.get("attached_node") == model["unique_id"]
    ]


def generic_name(test: dict) -> str | None:
    """The generic test's name (not_null, unique, ...); None for a singular test."""
    return (test.get("test_metadata") or {}).get("name")


def checked_column(test: dict) -> str:
    """The column (or expression, e.g. a concat of a composite key) a generic test checks."""
    kwargs = (test.get("test_metadata") or {}).get("kwargs") or {}
    return test.get("column_name") or kwargs.get("column_name") or ""


def enforced(model: dict) -> bool:
    return bool((model.get("contract") or {}).get("enforced"))


def test_contracted_models_state_value_rules_once_as_constraints(manifest: dict) -> None:
    contracted = [m for m in models(manifest) if enforced(m)]
    assert len(contracted) >= 9, [m["name"] for m in contracted]  # marts and the SQL ML models
    twice = [
        f"{m['name']}: {t['name']}"
        for m in contracted
        for t in data_tests_of(manifest, m)
        if generic_name(t) in VALUE_TESTS
    ]
    assert not twice, "value rules of contracted models belong in `constraints:`\n" + "\n".join(
        twice
    )


def test_every_primary_key_is_unique_and_not_null(manifest: dict) -> None:
    """A primary_key constraint: a `unique` data test over its columns, each column not null."""
    missing = []
    for model in models(manifest):
        keys = [c["columns"] for c in model.get("constraints", []) if c["type"] == "primary_key"]
        for column in model["columns"].values():
            if any(c["type"] == "primary_key" for c in column.get("constraints", [])):
                keys.append([column["name"]])
        for key in keys:
            tests = data_tests_of(manifest, model)
            unique = [t for t in tests if generic_name(t) == "unique"]
            if not any(all(re.search(rf"\b{k}\b", checked_column(t)) for k in key) for t in unique):
                missing.append(f"{model['name']}: no unique test over {key}")
            for name in key:
                column = model["columns"].get(name, {})
                as_constraint = enforced(model) and any(
                    c["type"] == "not_null" for c in column.get("constraints", [])
                )
                as_test = any(
                    generic_name(t) == "not_null" and checked_column(t) == name for t in tests
                )
                if not (as_constraint or as_test):
                    missing.append(f"{model['name']}.{name}: not checked not null")
    assert not missing, "\n".join(missing)


def test_every_unique_test_runs_the_projects_unique(manifest: dict) -> None:
    """tests/generic/unique.sql: dbt's query, run with Spark's partial aggregation bypassed (the
    adapter's test materialization applies the setting); dbt resolves the name `unique` to it."""
    unique_tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and generic_name(node) == "unique"
    ]
    assert unique_tests
    wrong = [
        node["name"]
        for node in unique_tests
        if "macro.spark_analytics.test_unique" not in node["depends_on"]["macros"]
        or node["config"]["meta"].get("spark_settings")
        != {"spark.sql.execution.bypassPartialAggregation": True}
    ]
    assert not wrong, f"unique tests without the project's unique: {wrong}"


# quarantine model -> the model whose rejected rows it publishes, each reason unchanged
QUARANTINE_OF = {
    "quarantine_transactions": "int_transactions_validated",
    "quarantine_customers": "stg_raw__customers",
    "quarantine_merchants": "stg_raw__merchants",
}


def test_rejection_reasons_are_tested_once_where_they_are_published(manifest: dict) -> None:
    """A quarantine keeps its parent's rows that have a reason, the reason as it is, so its
    accepted_values test sees every reason the parent writes (int_transactions_validated keeps
    staging's): that test is the one place, no model upstream repeats the scan."""
    by_name = {m["name"]: m for m in models(manifest)}
    tested = {
        m["name"]
        for m in models(manifest)
        for t in data_tests_of(manifest, m)
        if generic_name(t) == "accepted_values" and checked_column(t) == "rejection_reason"
    }
    assert tested == set(QUARANTINE_OF)
    for quarantine, parent in QUARANTINE_OF.items():
        node = by_name[quarantine]
        assert node["depends_on"]["nodes"] == [by_name[parent]["unique_id"]], quarantine
        sql = node["raw_code"]
        assert re.search(r"^\s*rejection_reason,$", sql, re.MULTILINE), f"{quarantine}: renamed"
        filtered = re.search(r"\bwhere\s+rejection_reason\s+is\s+not\s+null\s*$", sql, re.MULTILINE)
        assert filtered, f"{quarantine}: not exactly the rows with a reason"
