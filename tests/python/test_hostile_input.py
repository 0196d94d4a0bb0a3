"""Hostile input: every var and source option that reaches SQL is validated or quoted.

Each injection attempt must stop dbt with a clear error that names the var (or the YAML key),
before any SQL runs. Var checks happen when dbt renders the project (parse/compile, no Spark);
source definitions are checked by the register_external_sources hook before its first DDL.
Only the string-literal round trip needs Spark (one `dbt show`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.python import warm_dbt
from tests.python.dbt_project import REPO_ROOT, DbtProject, copy_of_project, replace_once

INJECTION = "1000 then 'x' end; drop table raw.transactions; --"

# var -> (hostile value, the node whose compilation reads it)
COMPILE_TIME_VARS = [
    ("high_value_threshold", INJECTION, "int_purchases_segmented"),
    ("high_value_threshold", "nan", "int_purchases_segmented"),
    ("high_value_threshold", "Infinity", "int_purchases_segmented"),
    ("high_value_threshold", True, "int_purchases_segmented"),
    ("medium_value_threshold", "500) or (1 = 1", "int_purchases_segmented"),
    ("high_value_threshold", "1e400 or true", "ml_customer_features"),
    ("high_risk_score", "0.6 then 1.0 else 0.0 end) from x --", "rpt_merchant_risk_profiles"),
    ("late_event_lookback_hours", "1; drop table events.bronze_transactions", None),
    ("late_event_lookback_hours", -5, None),
    ("ml_horizon_days", "30) union all select * from raw.customers --", "ml_snapshot_dates"),
    ("ml_cutoff_date", "2024-01-01' as date) union select 1 --", "ml_snapshot_dates"),
    ("ml_cutoff_date", "2024-02-30", "ml_snapshot_dates"),
    ("max_quarantine_share", "0.05 or true", None),
    ("max_quarantine_share", 7, None),
]

# vars read by the source-registration hook (dbt run-operation register_external_sources)
REGISTRATION_VARS = [
    ("transactions_format", "csv options (path '/etc/passwd') --", "transactions_format"),
    ("customers_format", "text", "customers_format"),
    ("merchants_format", "parquet) ; drop table raw.merchants", "merchants_format"),
    ("transactions_infer_schema", "true'; drop", "transactions_infer_schema"),
    ("raw_schema", "raw; drop database analytics cascade", "raw_schema"),
    ("raw_schema", "raw`.`x", "raw_schema"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return DbtProject(tmp_path_factory.mktemp("hostile"))


def _error_text(result) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def _assert_rejected(result, var: str, value: object) -> None:
    out = _error_text(result)
    assert result.returncode != 0, f"dbt accepted {var}={value!r}:\n{out[-3000:]}"
    assert f"var '{var}'" in out, f"the error does not name var '{var}':\n{out[-3000:]}"
    assert "Invalid" in out and "expected" in out, out[-3000:]
    # stopped before anything reached Spark
    assert "drop table" not in out.lower().split("invalid")[0]


@pytest.mark.parametrize(("var", "value", "node"), COMPILE_TIME_VARS)
def test_compile_time_var_injection_is_rejected(
    project: DbtProject, var: str, value: object, node: str | None
) -> None:
    args = ["compile", "--no-populate-cache"]
    if node:
        args += ["-s", node]
    else:
        args += ["-s", "stg_raw__transactions"]  # the error comes from parsing the whole project
    result = project.dbt(*args, dbt_vars={var: value}, check=False)
    _assert_rejected(result, var, value)


@pytest.mark.parametrize(("var", "value", "named"), REGISTRATION_VARS)
def test_source_definition_injection_is_rejected(
    project: DbtProject, var: str, value: object, named: str
) -> None:
    result = project.dbt(
        "run-operation", "register_external_sources", dbt_vars={var: value}, check=False
    )
    _assert_rejected(result, named, value)


def test_valid_vars_still_compile(project: DbtProject) -> None:
    """The checks accept what users legitimately pass (numbers as text, dates, integers)."""
    result = project.dbt(
        "compile",
        "--no-populate-cache",
        "-s",
        "int_purchases_segmented",
        "ml_snapshot_dates",
        dbt_vars={
            "high_value_threshold": "2000.50",
            "medium_value_threshold": 750,
            "ml_cutoff_date": "2024-02-29",
            "ml_horizon_days": "14",
            "max_quarantine_share": 0.2,
        },
    )
    compiled = next((project.workdir / "target").rglob("int_purchases_segmented.sql")).read_text()
    assert "> 2000.50" in compiled and "> 750" in compiled, compiled
    snapshot = next((project.workdir / "target").rglob("ml_snapshot_dates.sql")).read_text()
    assert "cast('2024-02-29' as date)" in snapshot, snapshot
    assert result.returncode == 0


# --- YAML-level input (performance hints, reader options): a copy of the project -----------------

MARTS_MODELS = Path("models") / "marts" / "_marts__models.yml"
RAW_SOURCES = Path("models") / "staging" / "raw" / "_raw__sources.yml"


@pytest.fixture(scope="module")
def shared_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    root = tmp_path_factory.mktemp("hostile-yaml")
    project = DbtProject(root / "state", project_dir=copy_of_project(root))
    yield project
    warm_dbt.stop(project.state_dir)  # its JVM's memory, for the next suites


@pytest.fixture
def project_copy(shared_copy: DbtProject) -> Iterator[DbtProject]:
    """The module's copy of the project (one warm runner for its tests); the YAML files a test
    may edit are put back from the repository after it, and dbt re-parses only those."""
    yield shared_copy
    for name in (MARTS_MODELS, RAW_SOURCES):
        shutil.copy2(REPO_ROOT / name, shared_copy.project_dir / name)


def _register_sources_logged(project: DbtProject) -> tuple[subprocess.CompletedProcess[str], str]:
    """`dbt run-operation register_external_sources` and what it wrote to dbt's log."""
    log = project.workdir / "logs" / "dbt.log"
    start = log.stat().st_size if log.exists() else 0
    result = project.dbt("run-operation", "register_external_sources", check=False)
    with log.open("rb") as written:
        written.seek(start)
        logged = written.read().decode(errors="replace")
    assert "Running with dbt=" in logged, logged[-2000:]  # this command's log, not another's
    return result, logged


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (
            "broadcast: [merchants, categories]",
            'broadcast: ["merchants) */ * from raw.customers --", categories]',
            "meta.spark_hints.broadcast of model.spark_analytics.fct_purchases",
        ),
        (
            "repartition: [purchase_month]",
            'repartition: ["purchase_month)*/ 1; drop table x; /*"]',
            "meta.spark_hints.repartition of model.spark_analytics.fct_purchases",
        ),
    ],
)
def test_hint_list_injection_is_rejected(
    project_copy: DbtProject, old: str, new: str, named: str
) -> None:
    replace_once(project_copy.project_dir / MARTS_MODELS, old, new)
    result = project_copy.dbt("compile", "--no-populate-cache", "-s", "fct_purchases", check=False)
    out = _error_text(result)
    assert result.returncode != 0, out[-3000:]
    assert named in out and "expected an identifier" in out, out[-3000:]


def test_reader_option_name_injection_is_rejected(project_copy: DbtProject) -> None:
    replace_once(
        project_copy.project_dir / RAW_SOURCES,
        "            format: \"{{ var('customers_format', 'json') }}\"\n",
        "            format: \"{{ var('customers_format', 'json') }}\"\n"
        "            options:\n"
        "              \"mode') , path '/etc' , ('x\": FAILFAST\n",
    )
    result, _ = _register_sources_logged(project_copy)
    out = _error_text(result)
    assert result.returncode != 0, out[-3000:]
    assert "reader option name in meta.external.options of source raw.customers" in out, out[-3000:]


def test_two_sources_registered_as_one_relation_are_refused(project_copy: DbtProject) -> None:
    """Each source is its own view: two sources naming one relation fail before any DDL."""
    replace_once(
        project_copy.project_dir / RAW_SOURCES,
        "      - name: customers\n",
        "      - name: customers\n        identifier: Transactions\n",
    )
    result, log = _register_sources_logged(project_copy)
    out = _error_text(result)
    assert result.returncode != 0, out[-3000:]
    assert (
        "Sources raw.transactions and raw.customers are both registered as raw.transactions" in out
    ), out[-3000:]
    assert "create table if not exists" not in log


@pytest.mark.parametrize("identifier", ["transactions__files", "Transactions__0123456789AB"])
def test_identifiers_named_like_a_sources_files_table_are_refused(
    project_copy: DbtProject, identifier: str
) -> None:
    """`<name>__files` / `<name>__<12 hex>` name the files behind the source `<name>`; a source
    registered under such a name would be dropped as a stale files table: refused before DDL."""
    replace_once(
        project_copy.project_dir / RAW_SOURCES,
        "      - name: customers\n",
        f"      - name: customers\n        identifier: {identifier}\n",
    )
    result, log = _register_sources_logged(project_copy)
    out = _error_text(result)
    assert result.returncode != 0, out[-3000:]
    reserved = "Invalid identifier of source raw.customers: a name ending in '__files'"
    assert reserved in out, out[-3000:]
    assert f'got "{identifier}"' in out, out[-3000:]
    assert "create table if not exists" not in log


# --- quoting: values that must stay text, whatever they contain (Spark: one dbt show) -----------

LITERALS = [
    "it's",
    "back\\slash",
    "trailing backslash\\",
    "\\' or 1=1 --",
    "'; drop table raw.transactions; --",
    "${env:HOME} and ${spark.sql.warehouse.dir}",
    "line\nbreak\ttab",
    "données 東京 🙂",
    '"double" `back`',
    "\\u0041 is not A",
]


def test_sql_string_literal_round_trips_hostile_values(project: DbtProject) -> None:
    """Reader-option values and locations go through sql_string_literal: Spark reads back the
    exact text (backslashes, quotes, ${...} substitution, newlines, non-ASCII)."""
    columns = ", ".join(
        f"{{{{ sql_string_literal(var('probe_{i}')) }}}} as v{i}" for i in range(len(LITERALS))
    )
    dbt_vars = {f"probe_{i}": value for i, value in enumerate(LITERALS)}
    result = project.dbt(
        "--quiet",
        "show",
        "--inline",
        f"select {columns}",
        "--output",
        "json",
        "--limit",
        "1",
        "--vars",
        json.dumps(dbt_vars, ensure_ascii=False),
    )
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    row = payload["show"][0]
    assert [row[f"v{i}"] for i in range(len(LITERALS))] == LITERALS


# --- awkward paths: spaces, quotes, non-ASCII in DATA_DIR and SPARK_STATE_DIR -------------------


def test_paths_with_spaces_quotes_and_non_ascii(
    tmp_path_factory: pytest.TempPathFactory, spark
) -> None:
    root = tmp_path_factory.mktemp("paths") / "dir with space" / "'quote'" / "données ü 東京"
    project = DbtProject(root)
    project.generate("--rows", "2000", "--seed", "7", "--formats", "csv")
    result = project.dbt(
        "build", "-s", "+rpt_sales_by_segment", "--exclude-resource-type", "test", "unit_test"
    )
    out = _error_text(result)
    assert f"Registering source raw.transactions (csv) at {project.data_dir}" in out, out[-3000:]
    marts = project.read_table(spark, "analytics_marts", "rpt_sales_by_segment")
    assert marts.count() == 3
    purchases = marts.agg({"transaction_count": "sum"}).first()[0]
    assert purchases == 2000, marts.collect()
    assert (project.state_dir / "warehouse").is_dir()
