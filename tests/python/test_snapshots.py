"""`dbt snapshot` on plain Parquet (adapters/dbt-spark-oss, macros/snapshot.sql; snapshots/).

The generator's `--entity-version N` writes later versions of the customers and merchants files
(spark_analytics.datagen.versions). One isolated project snapshots versions 1, 2 and 3 in turn;
after each, both snapshot tables must equal a type-2 history computed independently in plain
Python from the versions' files (the semantics of dbt-core's default snapshot materialization:
check strategy, hard_deletes invalidate for customers and new_record for merchants). The run
timestamps are not predictable, so they are compared by rank (first, second, ... snapshot run
that changed something). A rerun on unchanged data changes no row; a run killed just before the
publish leaves the previous history published, and a plain rerun then gives the clean history.

A small fixture project (Python strings, like fault_project.py) covers the rest of dbt's snapshot
configs on Parquet: the timestamp strategy, snapshot_meta_column_names, dbt_valid_to_current and
a column the query gains later.
"""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spark_analytics import warehouse
from spark_analytics.datagen import DatagenConfig, write_dataset
from tests.python.dbt_project import SEED, DbtProject
from tests.python.spark_oss_fixture import profile as fixture_profile

ROWS = 2000
SNAPSHOTS = "analytics_snapshots"
# What every version's build runs: the accepted entities, the snapshots and the tests whose
# parents are all selected (unique + not_null on dbt_scd_id among them).
BUILD = (
    "build",
    "-s",
    "+snp_customers",
    "+snp_merchants",
    "--indirect-selection",
    "cautious",
)
# snapshot -> (unique key, check columns, every compared column, hard_deletes)
SPECS = {
    "snp_customers": (
        "customer_id",
        ("country_code", "email"),
        ("customer_id", "customer_name", "email", "country_code", "signup_date"),
        "invalidate",
    ),
    "snp_merchants": (
        "merchant_id",
        ("category_code", "merchant_name"),
        ("merchant_id", "merchant_name", "category_code", "country_code"),
        "new_record",
    ),
}
CUSTOMERS_SCHEMA = StructType(
    [
        StructField(name, StringType())
        for name in ("customer_id", "customer_name", "email", "country", "signup_date")
    ]
)


# --- the generator flag (no Spark) ---------------------------------------------------------------


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _entities(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.read_json(out / "customers/customers.jsonl", lines=True, dtype=False)
    merchants = pq.read_table(out / "merchants/merchants.parquet").to_pandas()
    return customers.set_index("customer_id"), merchants.set_index("merchant_id")


def _diff(before: pd.DataFrame, after: pd.DataFrame, columns: dict[str, str]) -> dict[str, set]:
    """What changed between two versions of an entity, as the manifest names it."""
    kept = before.index.intersection(after.index)
    found = {
        "deleted": set(before.index.difference(after.index)),
        "appeared": set(after.index.difference(before.index)),
    }
    for column, change in columns.items():
        found[change] = set(kept[before.loc[kept, column] != after.loc[kept, column]])
    return found


def test_entity_versions_change_exactly_what_the_manifest_lists(tmp_path: Path) -> None:
    config = DatagenConfig(rows=ROWS, seed=SEED, formats=("csv", "parquet"))
    outputs = {}
    for version in (None, 1, 2, 3):
        out = tmp_path / f"v{version}"
        extra = {} if version is None else {"entity_version": version}
        write_dataset(DatagenConfig(**{**config.__dict__, "out": str(out), **extra}))
        outputs[version] = out
    # version 1 is the output without the flag, byte for byte (manifest included)
    assert _files(outputs[None]) == _files(outputs[1])
    manifests = {v: json.loads((outputs[v] / "manifest.json").read_text()) for v in (1, 2, 3)}
    assert "entity_changes" not in manifests[1]
    transactions = {
        v: {k: b for k, b in _files(outputs[v]).items() if k.startswith("transactions/")}
        for v in (1, 2, 3)
    }
    assert transactions[1] == transactions[2] == transactions[3]  # never change

    customer_columns = {"country": "country_changed", "email": "email_changed"}
    merchant_columns = {"category_code": "category_changed", "merchant_name": "name_changed"}
    for version in (2, 3):
        manifest = manifests[version]
        assert manifest["arguments"]["entity_version"] == version
        steps = manifest["entity_changes"]
        # version N + 1 extends version N: same earlier steps
        if version == 3:
            assert [s for s in steps["customers"] if s["version"] == 2] == manifests[2][
                "entity_changes"
            ]["customers"]
        (customers, merchants), (old_customers, old_merchants) = (
            _entities(outputs[version]),
            _entities(outputs[version - 1]),
        )
        assert manifest["counts"]["customers"] == len(customers)
        assert manifest["counts"]["merchants"] == len(merchants)
        for entity, before, after, columns in (
            ("customers", old_customers, customers, customer_columns),
            ("merchants", old_merchants, merchants, merchant_columns),
        ):
            (step,) = [s for s in steps[entity] if s["version"] == version]
            found = _diff(before, after, columns)
            assert found["deleted"] == set(step["deleted"]), entity
            assert found["appeared"] == set(step["added"]) | set(step["restored"]), entity
            for change in columns.values():
                assert found[change] == set(step[change]), (entity, change)
            assert step["deleted"] and step["added"] and all(step[c] for c in columns.values())
            # nothing else changed
            kept = before.index.intersection(after.index)
            others = [c for c in before.columns if c not in columns]
            assert before.loc[kept, others].equals(after.loc[kept, others]), entity
        restored = steps["customers"][-1]["restored"]
        assert (version == 3) == bool(restored)  # version 3 brings back version 2's deletions
        assert customers.index.is_unique and merchants.index.is_unique


# --- the snapshots ------------------------------------------------------------------------------


def _accepted(spark: SparkSession, generated: Path) -> dict[str, list[dict]]:
    """The accepted customers and merchants of the files, normalised like staging (PySpark)."""
    customers = spark.read.schema(CUSTOMERS_SCHEMA).json(str(generated / "customers"))
    customers = customers.select(
        F.trim("customer_id").alias("customer_id"),
        F.trim("customer_name").alias("customer_name"),
        F.lower(F.trim("email")).alias("email"),
        F.upper(F.trim("country")).alias("country_code"),
        F.to_date(F.trim("signup_date")).alias("signup_date"),
    )
    merchants = spark.read.parquet(str(generated / "merchants")).select(
        F.trim("merchant_id").alias("merchant_id"),
        "merchant_name",
        F.upper(F.trim("category_code")).alias("category_code"),
        F.upper(F.trim("country")).alias("country_code"),
    )
    state = {
        "snp_customers": [r.asDict() for r in customers.collect()],
        "snp_merchants": [r.asDict() for r in merchants.collect()],
    }
    for name, rows in state.items():
        key = SPECS[name][0]
        assert len({r[key] for r in rows}) == len(rows), f"{name}: duplicate keys in the files"
    return state


def _expected_history(states: list[list[dict]], name: str) -> list[dict]:
    """The type-2 history of dbt-core's default snapshot (check strategy) over the runs' source
    states; valid_from / valid_to are run numbers (1-based), None for an open row."""
    key, check, _, hard_deletes = SPECS[name]
    history: list[dict] = []
    for run, rows in enumerate(states, start=1):
        source = {r[key]: r for r in rows}
        current = {h["row"][key]: h for h in history if h["valid_to"] is None}
        added = []
        for k, row in source.items():
            open_row = current.get(k)
            if open_row is not None:
                deleted = open_row["is_deleted"] == "True"
                if not deleted and all(open_row["row"][c] == row[c] for c in check):
                    continue
                open_row["valid_to"] = run
            added.append({"row": row, "valid_from": run, "valid_to": None, "is_deleted": "False"})
        for k, open_row in current.items():
            if k in source or hard_deletes == "ignore" or open_row["is_deleted"] == "True":
                continue
            open_row["valid_to"] = run
            if hard_deletes == "new_record":
                added.append(
                    {
                        "row": open_row["row"],
                        "valid_from": run,
                        "valid_to": None,
                        "is_deleted": "True",
                    }
                )
        history += added
    return history


def _ranks(values: list[object]) -> dict[object, int]:
    """Dense ranks (1-based) of the distinct non-null values (0 stands for null: open rows)."""
    return {v: i for i, v in enumerate(sorted({v for v in values if v is not None}), start=1)}


def _comparable(name: str, expected: list[dict], actual: list[dict]) -> tuple[list, list]:
    """Both histories as tuples sorted alike, run numbers and run timestamps replaced by their
    rank."""
    _, _, columns, hard_deletes = SPECS[name]
    flag = ["is_deleted"] if hard_deletes == "new_record" else []
    run_rank = _ranks([h[c] for h in expected for c in ("valid_from", "valid_to")])
    time_rank = _ranks([r[c] for r in actual for c in ("dbt_valid_from", "dbt_valid_to")])
    want = [
        (
            *(h["row"][c] for c in columns),
            run_rank[h["valid_from"]],
            run_rank.get(h["valid_to"], 0),
            *(h[c] for c in flag),
        )
        for h in expected
    ]
    got = [
        (
            *(r[c] for c in columns),
            time_rank[r["dbt_valid_from"]],
            time_rank.get(r["dbt_valid_to"], 0),
            *(r[f"dbt_{c}"] for c in flag),
        )
        for r in actual
    ]
    return sorted(want, key=repr), sorted(got, key=repr)


def _read(spark: SparkSession, project: DbtProject, name: str) -> list[dict]:
    return [r.asDict() for r in project.read_table(spark, SNAPSHOTS, name).collect()]


def _check_history(
    name: str, states: list[list[dict]], actual: list[dict], restored: set[str]
) -> None:
    key, _, _, hard_deletes = SPECS[name]
    want, got = _comparable(name, _expected_history(states, name), actual)
    missing, extra = sorted(set(want) - set(got), key=repr), sorted(set(got) - set(want), key=repr)
    assert got == want, f"{name}: history differs; missing {missing[:5]}, unexpected {extra[:5]}"
    ids = [r["dbt_scd_id"] for r in actual]
    assert None not in ids and len(set(ids)) == len(ids), f"{name}: dbt_scd_id not unique"
    assert all(r["dbt_updated_at"] == r["dbt_valid_from"] for r in actual), name
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in actual:
        by_key[row[key]].append(row)
    gaps = set()
    for k, rows in by_key.items():
        rows.sort(key=lambda r: r["dbt_valid_from"])
        assert sum(r["dbt_valid_to"] is None for r in rows) <= 1, f"{name}: {k} has 2 open rows"
        for row, following in zip(rows, rows[1:], strict=False):
            assert row["dbt_valid_to"] is not None and row["dbt_valid_from"] < row["dbt_valid_to"]
            assert row["dbt_valid_to"] <= following["dbt_valid_from"], (name, k)
            if row["dbt_valid_to"] < following["dbt_valid_from"]:
                gaps.add(k)
    # a closed row's valid_to is the next row's valid_from, except for an invalidated
    # (deleted) customer that came back later
    assert gaps == (restored if hard_deletes == "invalidate" else set()), name
    present = {r[key] for r in states[-1]}
    ever = {r[key] for state in states for r in state}
    for k in ever - present:  # deleted in the latest version
        open_rows = [r for r in by_key[k] if r["dbt_valid_to"] is None]
        if hard_deletes == "invalidate":
            assert not open_rows, (name, k)
        else:
            assert [r["dbt_is_deleted"] for r in open_rows] == ["True"], (name, k)
    for k in present:
        (open_row,) = [r for r in by_key[k] if r["dbt_valid_to"] is None]
        assert hard_deletes != "new_record" or open_row["dbt_is_deleted"] == "False"


def _fingerprint(frame: DataFrame) -> tuple[int, int]:
    row = frame.agg(F.count("*"), F.sum(F.hash(*frame.columns).cast("bigint"))).first()
    return int(row[0]), int(row[1] or 0)


def _published_fingerprint(project: DbtProject, name: str) -> tuple[int, int]:
    """Count and sum(hash(*)) of what the published view reads, asked through dbt (metastore)."""
    result = project.dbt(
        "show",
        "--inline",
        f"select count(*) as n, cast(coalesce(sum(cast(hash(*) as bigint)), 0) as string) as h "
        f"from {{{{ ref('{name}') }}}}",
        "--output",
        "json",
    )
    payload = result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1]
    row = json.loads(payload)["show"][0]
    return int(row["n"]), int(row["h"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return DbtProject(tmp_path_factory.mktemp("snapshots"))


def _rows(history: list[dict]) -> list[tuple]:
    return sorted((tuple(sorted(r.items())) for r in history), key=repr)


def test_snapshots_follow_entity_versions_and_survive_a_kill(
    project: DbtProject, spark: SparkSession
) -> None:
    states: dict[str, list[list[dict]]] = {name: [] for name in SPECS}
    restored: set[str] = set()

    def generate(version: int) -> None:
        manifest = project.generate(
            "--rows", str(ROWS), "--seed", str(SEED), "--entity-version", str(version)
        )
        for step in manifest.get("entity_changes", {"customers": []})["customers"]:
            restored.update(step["restored"])
        for name, rows in _accepted(spark, project.generated_dir).items():
            states[name].append(rows)

    def check() -> dict[str, list[dict]]:
        found = {name: _read(spark, project, name) for name in SPECS}
        for name, history in found.items():
            _check_history(name, states[name], history, restored)
        return found

    # version 1: the first build of both histories
    generate(1)
    project.dbt(*BUILD)
    first = check()

    # a rerun on unchanged data writes a new version with exactly the same rows
    warehouse_dir = project.state_dir / "warehouse"
    before = {name: warehouse.versions(warehouse_dir, SNAPSHOTS, name)[0] for name in SPECS}
    project.dbt("snapshot")
    for name, history in first.items():
        assert warehouse.versions(warehouse_dir, SNAPSHOTS, name)[0] != before[name], name
        assert _rows(_read(spark, project, name)) == _rows(history), name

    # version 2: changed attributes, deletions, new entities
    generate(2)
    project.dbt(*BUILD)
    check()

    # version 3 (restored entities among the changes), killed before snp_customers' publish
    generate(3)
    (published,) = warehouse.versions(warehouse_dir, SNAPSHOTS, "snp_customers")[:1]
    published_fingerprint = _fingerprint(spark.read.parquet(str(published)))
    killed = DbtProject(
        project.workdir, extra_env=(("SPARK_OSS_FAULT_POINT", "before_publish:snp_customers"),)
    )
    run = killed.dbt(*BUILD, check=False)
    assert run.returncode == -signal.SIGKILL, run.stdout[-3000:]
    unpublished = warehouse.versions(warehouse_dir, SNAPSHOTS, "snp_customers")[0]
    assert unpublished != published  # the killed run's history was written completely ...
    assert _fingerprint(spark.read.parquet(str(unpublished))) != published_fingerprint
    # ... but readers still see the version-2 history, unchanged
    assert _published_fingerprint(project, "snp_customers") == published_fingerprint

    # a plain rerun gives the clean history and drops the killed run's version
    project.dbt(*BUILD)
    check()
    assert not unpublished.exists()
    for name in SPECS:
        assert 1 <= len(warehouse.versions(warehouse_dir, SNAPSHOTS, name)) <= 2, name


# --- timestamp strategy, snapshot_meta_column_names, dbt_valid_to_current, a new column -------

FIXTURE_SCHEMA = "snapfix"
# batch 2: item 1 updated, item 3 deleted, item 4 new; batch 3: item 2 updated, item 3 back
# (newer updated_at), and the query gains a column `colour`.
RAW_ITEMS = """id,name,price,updated_at,batch
1,apple,1.00,2026-01-01 00:00:00,1
2,pear,2.00,2026-01-01 00:00:00,1
3,plum,3.00,2026-01-01 00:00:00,1
1,apple,1.50,2026-01-02 00:00:00,2
2,pear,2.00,2026-01-01 00:00:00,2
4,kiwi,4.00,2026-01-02 00:00:00,2
1,apple,1.50,2026-01-02 00:00:00,3
2,pear,2.50,2026-01-03 00:00:00,3
3,plum,3.00,2026-01-03 00:00:00,3
4,kiwi,4.00,2026-01-02 00:00:00,3
"""
FIXTURE_FILES = {
    "dbt_project.yml": """
name: snapshot_fixture
version: "1.0"
config-version: 2
profile: snapshot_fixture
seed-paths: ["seeds"]
snapshot-paths: ["snapshots"]
vars:
  batch: 1
seeds:
  snapshot_fixture:
    +file_format: parquet
    raw_items:
      +column_types: {id: int, name: string, price: "decimal(10,2)", updated_at: timestamp,
                      batch: int}
snapshots:
  snapshot_fixture:
    +schema: hist
    +file_format: parquet
""",
    "profiles.yml": fixture_profile("snapshot_fixture", FIXTURE_SCHEMA),
    "seeds/raw_items.csv": RAW_ITEMS,
    "snapshots/items_history.sql": """
{% snapshot items_history %}
{{ config(
    unique_key='id',
    strategy='timestamp',
    updated_at='updated_at',
    hard_deletes='invalidate',
    dbt_valid_to_current="to_timestamp('9999-12-31 00:00:00')",
    snapshot_meta_column_names={
        'dbt_valid_from': 'valid_from', 'dbt_valid_to': 'valid_to', 'dbt_scd_id': 'scd_id',
        'dbt_updated_at': 'snapshot_updated_at', 'dbt_is_deleted': 'is_deleted'},
) }}
select id, name, price, updated_at
  {%- if var('batch') | int >= 3 %}, 'x' as colour{% endif %}
from {{ ref('raw_items') }}
where batch = {{ var('batch') | int }}
{% endsnapshot %}
""",
}


@pytest.mark.slow  # a project of its own; --runslow
def test_timestamp_strategy_custom_columns_and_a_new_column(
    tmp_path: Path, spark: SparkSession
) -> None:
    project_dir = tmp_path / "project"
    for name, text in FIXTURE_FILES.items():
        (project_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (project_dir / name).write_text(text.lstrip("\n"))
    project = DbtProject(tmp_path, project_dir=project_dir)
    project.dbt("build", dbt_vars={"batch": 1})
    project.dbt("snapshot", dbt_vars={"batch": 2})
    project.dbt("snapshot", dbt_vars={"batch": 3})

    history = project.read_table(spark, f"{FIXTURE_SCHEMA}_hist", "items_history")
    assert history.columns == [
        "id",
        "name",
        "price",
        "updated_at",
        "scd_id",
        "snapshot_updated_at",
        "valid_from",
        "valid_to",
        "colour",
    ]
    rows = [r.asDict() for r in history.collect()]
    assert all(r["valid_from"] == r["snapshot_updated_at"] == r["updated_at"] for r in rows)
    assert len({r["scd_id"] for r in rows}) == len(rows)

    def day(text: str) -> datetime:
        return datetime.fromisoformat(text)

    current = day("9999-12-31")
    (deleted_at,) = {r["valid_to"] for r in rows if r["id"] == 3 and r["valid_to"] != current}
    assert day("2026-01-04") < deleted_at < current  # closed at the run that found it deleted
    got = sorted(
        (
            (r["id"], r["name"], float(r["price"]), r["colour"], r["valid_from"], r["valid_to"])
            for r in rows
        ),
        key=repr,
    )
    assert got == sorted(
        [
            (1, "apple", 1.0, None, day("2026-01-01"), day("2026-01-02")),
            (1, "apple", 1.5, None, day("2026-01-02"), current),
            (2, "pear", 2.0, None, day("2026-01-01"), day("2026-01-03")),
            (2, "pear", 2.5, "x", day("2026-01-03"), current),
            (3, "plum", 3.0, None, day("2026-01-01"), deleted_at),
            (3, "plum", 3.0, "x", day("2026-01-03"), current),
            (4, "kiwi", 4.0, None, day("2026-01-02"), current),
        ],
        key=repr,
    )
