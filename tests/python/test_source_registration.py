"""Crash-safe, idempotent source registration (macros/register_external_sources.sql).

One isolated project, four registrations in a row on the same metastore:
  A. the former macro (git history) registers the old layout: raw.transactions a table;
  B. the new macro migrates it (one-time drop of that table) to view -> transactions__<id>;
  C. registering again issues no DDL at all;
  D. a changed location builds transactions__<new id> next to the old one, flips the view with
     one `alter view ... as` (one metastore call), then drops the old definition.
Then D's statements are replayed in a local SparkSession while a reader polls the view: the
reader never sees it missing or empty.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading

import pytest
from pyspark.sql import SparkSession

from tests.python.dbt_project import REPO_ROOT, DbtProject, copy_of_project

ROWS = 2000
# The last commit whose macro registered sources as drop + create table (the former layout).
FORMER_MACRO_COMMIT = "bcfaaf3"
DDL = re.compile(
    r"^\s*(create (or replace )?(temporary )?(view|table|schema)|drop (table|view))\b.*",
    re.IGNORECASE | re.MULTILINE,
)


def _statements(project: DbtProject) -> list[str]:
    """The SQL statements of the last dbt invocation (from logs/dbt.log, debug level)."""
    log = (project.workdir / "logs" / "dbt.log").read_text()
    blocks = re.split(
        r"\n\S*\s*\d\d:\d\d:\d\d\.\d+ \[debug\] \[[^\]]+\]: On [^:\n]+: /\* \{[^\n]*\} \*/\n", log
    )
    statements = []
    for block in blocks[1:]:
        sql = re.split(r"\n\S*\s*\d\d:\d\d:\d\d\.\d+ \[", block)[0].strip()
        statements.append(sql)
    return statements


def _ddl(project: DbtProject) -> list[str]:
    return [" ".join(s.split()) for s in _statements(project) if DDL.match(s)]


def _register(project: DbtProject, **dbt_vars: str) -> str:
    log = project.workdir / "logs" / "dbt.log"
    if log.exists():
        log.write_text("")
    result = project.dbt(
        "run-operation",
        "register_external_sources",
        "--args",
        '{only: ["raw.transactions", "raw.customers", "raw.merchants"]}',
        dbt_vars=dbt_vars or None,
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("registration"))
    project.generate("--rows", str(ROWS), "--seed", "7", "--formats", "csv")
    return project


@pytest.fixture(scope="module")
def history(project: DbtProject, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    # A. the former layout, by the former macro, on the same metastore
    former = copy_of_project(tmp_path_factory.mktemp("former_project"))
    old_macro = subprocess.run(
        ["git", "show", f"{FORMER_MACRO_COMMIT}:macros/register_external_sources.sql"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (former / "macros" / "register_external_sources.sql").write_text(old_macro)
    for name in ("validate_inputs.sql",):  # new macros the copied models need stay
        assert (former / "macros" / name).exists()
    DbtProject(project.workdir, project_dir=former).dbt(
        "run-operation", "register_external_sources"
    )

    steps: dict[str, object] = {}
    steps["B_out"] = _register(project)
    steps["B_ddl"] = _ddl(project)
    steps["C_out"] = _register(project)
    steps["C_ddl"] = _ddl(project)
    moved = project.data_dir / "moved csv"
    shutil.copytree(project.generated_dir / "transactions" / "csv", moved)
    steps["D_out"] = _register(project, transactions_location=str(moved))
    steps["D_statements"] = _statements(project)
    steps["D_ddl"] = _ddl(project)
    steps["moved"] = moved
    return steps


def test_first_run_migrates_the_former_table_layout(history: dict[str, object]) -> None:
    out, ddl = history["B_out"], history["B_ddl"]
    assert "Migrating raw.transactions from an external table to a view" in out, out
    assert ddl.count("drop table raw.transactions") == 1, ddl
    assert any(s.startswith("create view raw.transactions ") for s in ddl), ddl
    # the former Parquet layout (a view over merchants__files) flips in place, then is dropped
    assert "drop table raw.merchants" not in ddl, ddl
    assert "drop table if exists raw.merchants__files" in ddl, ddl


def test_registering_again_issues_no_ddl(history: dict[str, object]) -> None:
    out, ddl = history["C_out"], history["C_ddl"]
    for source in ("transactions", "customers", "merchants"):
        assert re.search(
            rf"Source raw\.{source} unchanged \(definition [0-9a-f]{{12}}\): no DDL", out
        )
    metastore_ddl = [
        s for s in ddl if "temporary view" not in s and "drop view if exists _spark" not in s
    ]
    assert metastore_ddl == [], metastore_ddl


def test_changed_location_flips_to_a_new_definition_in_one_operation(
    history: dict[str, object], project: DbtProject
) -> None:
    out = history["D_out"]
    new = re.search(
        r"Source raw\.transactions registered: raw\.transactions -> (transactions__[0-9a-f]{12})",
        out,
    )
    assert new, out
    old = re.search(r"raw\.transactions -> (transactions__[0-9a-f]{12})", history["B_out"])[1]
    assert new[1] != old
    touching_name = [
        " ".join(s.split())
        for s in history["D_statements"]
        if re.search(r"\braw\.transactions\b(?!__)", s) and s.lower().startswith("alter")
    ]
    # the flip is one statement; the definition id is recorded after it
    assert len(touching_name) == 2, touching_name
    assert touching_name[0].startswith("alter view raw.transactions as select"), touching_name
    assert f"from raw.{new[1]}" in touching_name[0], touching_name
    assert touching_name[1] == (
        "alter view raw.transactions set tblproperties "
        f"('spark_analytics.source_definition' = '{new[1][-12:]}')"
    ), touching_name
    order = [" ".join(s.split()) for s in history["D_statements"] if "transactions" in s]
    flip = next(i for i, s in enumerate(order) if s.startswith("alter view raw.transactions as"))
    created = next(
        i for i, s in enumerate(order) if s.startswith(f"create table if not exists raw.{new[1]}")
    )
    dropped = next(
        i for i, s in enumerate(order) if s.startswith(f"drop table if exists raw.{old}")
    )
    assert created < flip < dropped, order
    # customers and merchants did not change
    assert "Source raw.customers unchanged" in out and "Source raw.merchants unchanged" in out
    # the old definition was an external table: its files are still there
    assert any((project.generated_dir / "transactions" / "csv").glob("*.csv"))
    shown = project.dbt(
        "show", "--inline", "select count(*) as n from raw.transactions", "--output", "json"
    )
    assert f'"n": {ROWS}' in shown.stdout, shown.stdout[-2000:]


def test_reader_never_sees_the_source_missing_during_a_flip(
    history: dict[str, object], spark: SparkSession, project: DbtProject
) -> None:
    """D's statements, replayed in a local SparkSession (in-memory catalog) after B's state:
    a reader polling the view sees the full source before, during and after the flip."""
    schema = "raw_replay_flip"
    replay = [s.replace("raw.", f"{schema}.") for s in history["D_statements"]]
    old_csv = project.generated_dir / "transactions" / "csv"
    spark.sql(f"create schema if not exists {schema}")
    spark.sql(
        f"create table {schema}.transactions__000000000000 (transaction_id string, "
        "customer_id string, "
        "merchant_id string, purchase_amount string, event_time string, _corrupt_record string) "
        f"using csv options ('header' = 'true', 'path' = '{old_csv}')"
    )
    spark.sql(
        f"create or replace view {schema}.transactions as "
        f"select * from {schema}.transactions__000000000000"
    )
    expected = spark.sql(f"select count(*) from {schema}.transactions").first()[0]
    assert expected == ROWS

    errors: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                counts.append(spark.sql(f"select count(*) from {schema}.transactions").first()[0])
            except Exception as exc:  # noqa: BLE001 - any failure is what we look for
                errors.append(str(exc).splitlines()[0])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for statement in replay:
            if statement.lower().startswith(("select", "show", "describe")):
                continue
            if "transactions" not in statement and "_spark_analytics_source_probe" not in statement:
                continue
            spark.sql(statement)
        spark.sql(f"drop table if exists {schema}.transactions__000000000000")
        for _ in range(3):
            counts.append(spark.sql(f"select count(*) from {schema}.transactions").first()[0])
    finally:
        stop.set()
        thread.join()
    assert errors == [], errors[:5]
    assert counts and set(counts) == {ROWS}, sorted(set(counts))


# An orchestrator runs dbt in-process (dbtRunner). dbt keeps the last command's selection in a
# module, and run-operation selects nothing: the registration must not read the stale selection.
IN_PROCESS = """
import sys
from dbt.cli.main import dbtRunner

runner = dbtRunner()
if not runner.invoke(["compile", "-s", "stg_raw__customers"]).success:
    sys.exit(3)
sys.exit(0 if runner.invoke(["run-operation", "register_external_sources"]).success else 1)
"""


def test_run_operation_after_a_selecting_command_in_the_same_process_registers_every_source(
    project: DbtProject, history: dict[str, object]
) -> None:
    done = project.run(sys.executable, "-c", IN_PROCESS)
    registered = re.findall(r"Registering source raw\.(\w+) ", done.stdout)
    assert sorted(registered) == ["customers", "merchants", "transactions"], done.stdout[-3000:]
