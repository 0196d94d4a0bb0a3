"""dbt-spark-oss: unit tests of the adapter's pieces and an end-to-end `dbt build` (subprocess).

The end-to-end part runs two `dbt build`s of a tiny fixture project (tests/python/
spark_oss_fixture.py) on the embedded target and checks the tables by reading their Parquet
files directly (no second Spark), against values computed here from the seed with pandas.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dbt.adapters.spark_oss.connections import SESSION_START_THREAD
from dbt.adapters.spark_oss.impl import described_parts
from dbt.adapters.spark_oss.process_exit import is_dbt_program
from pyspark.sql import SparkSession

from python_udfs.merchant import normalize_merchant_name
from python_udfs.risk import transaction_risk_score
from spark_analytics import warehouse
from spark_analytics.cluster.processes import free_port
from tests.python import warm_dbt
from tests.python.dbt_project import DbtProject
from tests.python.spark_oss_fixture import RAW_ORDERS, SCHEMA, write_project
from tests.python.stale_jvm import fake_jvm, orphaned_lock
from tests.python.thrift_app import (
    assert_started_from_the_server_archive,
    port_open,
    start_thrift_connect_app,
)

# --- unit: metastore lock ---------------------------------------------------------------------


def test_state_dir_from_derby_connection_url(tmp_path: Path) -> None:
    from spark_metastore_lock import lock_path, session_state_dir

    url = f"jdbc:derby:;databaseName={tmp_path}/state/metastore_db;create=true"
    params = {"spark.hadoop.javax.jdo.option.ConnectionURL": url}
    assert session_state_dir(params) == (tmp_path / "state").resolve()
    assert lock_path(params) == (tmp_path / "state" / ".dbt-session.lock").resolve()


def test_state_dir_relative_url_uses_derby_home_else_cwd(tmp_path: Path) -> None:
    from spark_metastore_lock import session_state_dir

    url = "jdbc:derby:;databaseName=meta/metastore_db;create=true"
    with_home = {
        "spark.hadoop.javax.jdo.option.ConnectionURL": url,
        "spark.driver.extraJavaOptions": f"-Xss4m -Dderby.system.home={tmp_path}/home",
    }
    assert session_state_dir(with_home) == (tmp_path / "home" / "meta").resolve()
    no_home = {"spark.hadoop.javax.jdo.option.ConnectionURL": url}
    assert session_state_dir(no_home, cwd=str(tmp_path)) == (tmp_path / "meta").resolve()


def test_state_dir_defaults_and_non_derby(tmp_path: Path) -> None:
    from spark_metastore_lock import session_state_dir

    assert session_state_dir({}, cwd=str(tmp_path)) == tmp_path.resolve()
    pg = {"spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:postgresql://127.0.0.1/hive"}
    assert session_state_dir(pg) is None


HOLD_LOCK = """
import sys, time
from pathlib import Path
from spark_metastore_lock import acquire_lock_file
acquire_lock_file(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(120)
"""


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_lock_held_by_another_process_fails_fast_naming_file_and_pid(tmp_path: Path) -> None:
    from spark_metastore_lock import (
        SessionLockedError,
        acquire_lock_file,
        release_all,
    )

    path = tmp_path / ".dbt-session.lock"
    holder = _hold_lock(path)
    try:
        with pytest.raises(SessionLockedError) as err:
            acquire_lock_file(path)
        assert str(path) in str(err.value)
        assert f"pid {holder.pid}" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    try:  # released by the OS when the holder died
        assert acquire_lock_file(path) == path
        assert acquire_lock_file(path) == path  # re-entrant within one process
        assert f"pid {os.getpid()}" in path.read_text()
    finally:
        release_all()


# --- unit: credentials, plugin, submission ----------------------------------------------------


def _credentials(**overrides: Any) -> Any:
    from dbt.adapters.spark_oss.connections import SparkOssCredentials

    data = {"method": "session", "host": "localhost", "schema": "analytics", **overrides}
    return SparkOssCredentials.from_dict(data)


def test_credentials_defaults_and_connect_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_CONNECT_URL", raising=False)
    creds = _credentials()
    assert creds.type == "spark_oss"
    assert creds.python_udf_modules == ["python_udfs"]
    assert creds.session_lock is True
    thrift = _credentials(method="thrift", host="127.0.0.1", port=10000)
    assert thrift.resolved_connect_url() == "sc://127.0.0.1:15002"
    monkeypatch.setenv("SPARK_CONNECT_URL", "sc://127.0.0.1:15999")
    assert thrift.resolved_connect_url() == "sc://127.0.0.1:15999"
    explicit = _credentials(method="thrift", host="h", connect_url="sc://127.0.0.1:1")
    assert explicit.resolved_connect_url() == "sc://127.0.0.1:1"


def test_a_running_statement_is_polled_again_at_once_unless_the_profile_says() -> None:
    from dbt.adapters.spark.connections import SparkCredentials
    from dbt.adapters.spark_oss.connections import SparkOssCredentials

    data = {"method": "thrift", "host": "h", "port": 1, "schema": "analytics"}
    SparkOssCredentials.validate(data)  # a profile without the key is valid
    assert SparkCredentials.from_dict(data).poll_interval == 5  # dbt-spark's: 5 to 10 s take 10
    assert SparkOssCredentials.from_dict(data).poll_interval == 0
    assert _credentials(method="thrift", host="h", port=1, poll_interval=2).poll_interval == 2


class _ClosingHandle:
    """A connection handle whose close() fails the way pyhive's does (or with ``error``)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def close(self) -> None:
        raise self.error


def test_thrift_close_session_error_reply_is_a_warning_not_a_failed_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt.adapters.contracts.connection import Connection, ConnectionState
    from dbt.adapters.spark_oss import connections
    from dbt.adapters.spark_oss.connections import SparkOssConnectionManager
    from pyhive.exc import OperationalError
    from TCLIService.ttypes import TCloseSessionResp, TStatus, TStatusCode

    # What a stock Spark 4 Thrift Server replied in CI (spark_analytics/cluster/hive_shim.py).
    reply = TCloseSessionResp(
        status=TStatus(
            statusCode=TStatusCode.ERROR_STATUS,
            errorMessage="java.lang.RuntimeException: java.lang.NoClassDefFoundError: "
            "org/apache/hadoop/hive/llap/security/LlapSigner$Signable\n\tat org.apache.hive...",
        )
    )

    def connection(error: Exception) -> Connection:
        creds = _credentials(method="thrift", host="127.0.0.1", port=10000)
        return Connection(
            type="spark_oss",
            name="model.p.m",
            state=ConnectionState.OPEN,
            credentials=creds,
            handle=_ClosingHandle(error),
        )

    warnings: list[str] = []
    monkeypatch.setattr(connections.logger, "warning", warnings.append)
    closed = SparkOssConnectionManager.close(connection(OperationalError(reply)))
    assert closed.state == ConnectionState.CLOSED
    assert len(warnings) == 1
    assert (
        "answered CloseSession with an error (java.lang.RuntimeException: java.lang."
        "NoClassDefFoundError: org/apache/hadoop/hive/llap/security/LlapSigner$Signable)"
        in warnings[0]
    )
    # Anything else (a broken socket, an error reply to a statement) still fails.
    with pytest.raises(OSError, match="reset"):
        SparkOssConnectionManager.close(connection(ConnectionResetError("connection reset")))
    with pytest.raises(OperationalError):
        SparkOssConnectionManager.close(connection(OperationalError("execute failed")))


def test_plugin_extends_spark_with_session_submission() -> None:
    from dbt.adapters.spark.impl import SparkAdapter
    from dbt.adapters.spark_oss import Plugin
    from dbt.adapters.spark_oss.impl import SparkOssAdapter

    assert Plugin.dependencies == ["spark"]
    assert issubclass(SparkOssAdapter, SparkAdapter)
    assert SparkOssAdapter.type() == "spark_oss"
    macros = {p.name for p in (Path(Plugin.include_path) / "macros").glob("*.sql")}
    assert {"python_model.sql", "table.sql", "incremental.sql"} <= macros
    helpers = SparkOssAdapter.python_submission_helpers.fget(None)  # type: ignore[attr-defined]
    assert set(helpers) == {"session"}
    assert SparkOssAdapter.default_python_submission_method.fget(None) == "session"  # type: ignore[attr-defined]


def test_thrift_method_runs_python_models_through_spark_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt.adapters.spark_oss import python_submissions

    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        python_submissions, "connect_session", lambda url: calls.append(("connect", url)) or "cs"
    )
    monkeypatch.setattr(
        python_submissions,
        "register_udf_modules",
        lambda spark, modules: calls.append(("udfs", (spark, modules))),
    )
    creds = _credentials(method="thrift", host="127.0.0.1", connect_url="sc://127.0.0.1:15002")
    helper = python_submissions.SparkOssPythonJobHelper(
        {"unique_id": "model.p.m", "original_file_path": "models/m.py", "raw_code": ""}, creds
    )
    assert helper.spark() == "cs"
    # Connect session for the URL, then the UDF modules registered into it for Python models
    assert calls == [("connect", "sc://127.0.0.1:15002"), ("udfs", ("cs", ["python_udfs"]))]
    helper.submit("assert spark == 'cs'\n")


def test_udfs_are_registered_once_per_session_until_it_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.adapters.spark_oss.connections import forget_udf_registrations, register_udf_modules

    (tmp_path / "counting_udfs.py").write_text(
        "calls = []\n\ndef register_all(spark):\n    calls.append(spark)\n    return ['f']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    session = object()  # a stopped Connect session's id can come back for the next one
    assert register_udf_modules(session, ["counting_udfs"]) == ["f"]
    assert register_udf_modules(session, ["counting_udfs"]) == ["f"]
    forget_udf_registrations(session)
    assert register_udf_modules(session, ["counting_udfs"]) == ["f"]
    forget_udf_registrations(session)  # nothing left behind for the next test

    import counting_udfs  # type: ignore[import-not-found]

    assert counting_udfs.calls == [session, session]


def test_a_stopped_session_is_replaced_once_for_the_next_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection readies its session at its first statement and keeps it (dbt asks for a
    cursor per statement); if a Python model stopped it, the next statement readies a new one
    (lock, profile settings, UDFs), as dbt-spark's cursor (getOrCreate) would, and keeps that."""
    from types import SimpleNamespace

    from dbt.adapters.spark_oss import connections

    class FakeSession:
        def __init__(self, name: str) -> None:
            self.name, self.statements = name, []
            self._sc = SimpleNamespace(_jsc=object())

        def sql(self, statement: str) -> str:
            self.statements.append(statement)
            return f"{self.name}: {statement}"

    sessions = [FakeSession("first"), FakeSession("second")]
    readied: list[FakeSession] = []

    def ready(credentials: Any) -> FakeSession:
        readied.append(sessions[len(readied)])
        return readied[-1]

    monkeypatch.setattr(connections, "ensure_session_ready", ready)
    # the connection's own copy of the session: test_connection_sessions.py
    monkeypatch.setattr(connections, "connection_session", lambda session: session)
    connection = connections.SparkOssSessionConnectionWrapper(None, _credentials())
    for statement in ("select 1", "select 2", "select 3", "select 4"):
        if statement == "select 3":
            sessions[0]._sc._jsc = None  # what SparkContext.stop() leaves
        connection.cursor().execute(statement)
    assert [session.statements for session in sessions] == [
        ["select 1", "select 2"],
        ["select 3", "select 4"],
    ]
    assert readied == sessions  # each readied once


def test_python_error_is_one_line_with_model_file_line() -> None:
    from dbt.adapters.spark_oss.python_submissions import run_python_model
    from dbt_common.exceptions import DbtRuntimeError

    raw = "\n# comment\ndef model(dbt, session):\n    return 1 / 0\n"
    compiled = "\n  \n    " + raw.lstrip() + "\n# postfix\nmodel(None, spark)\n"
    with pytest.raises(DbtRuntimeError) as err:
        run_python_model(object(), compiled, "model.p.m", "models/m.py", raw)
    message = err.value.msg
    assert "\n" not in message
    assert "models/m.py, line 4: ZeroDivisionError: division by zero" in message

    with pytest.raises(DbtRuntimeError) as err:
        run_python_model(object(), "def model(:\n", "model.p.m", "models/m.py", "def model(:\n")
    assert "models/m.py, line 1: SyntaxError" in err.value.msg


def test_python_runtime_converts_pandas_and_rejects_other_types() -> None:
    from dbt.adapters.spark_oss.python_runtime import to_spark_dataframe

    class FakeSpark:
        def createDataFrame(self, df: pd.DataFrame) -> str:  # noqa: N802 - Spark's API name
            return f"spark df with {len(df)} rows"

    assert to_spark_dataframe(FakeSpark(), pd.DataFrame({"a": [1, 2]})) == "spark df with 2 rows"
    with pytest.raises(TypeError, match="must return a Spark or pandas DataFrame"):
        to_spark_dataframe(FakeSpark(), [1, 2])


# --- unit: the parts of `describe` (the catalog's comments, persist_docs, publish) -----------


def test_described_parts_read_sparks_describe(spark: SparkSession) -> None:
    """Spark's own `describe table [extended]` rows: a partitioned table's columns once each, in
    order, a column named like a detail (`Comment`) kept a column, the table's comment, and a
    view over it with its own comment and text; without `extended` no details."""
    spark.sql(
        "create table described_t (id string comment 'the key', n int, `Comment` string, "
        "month string comment 'it''s the partition') using parquet partitioned by (month) "
        "comment 'one row per id'"
    )
    spark.sql("create view described_v comment 'published' as select * from described_t")
    try:
        table = described_parts(spark.sql("describe table extended described_t").collect())
        view = described_parts(spark.sql("describe table extended described_v").collect())
        plain = described_parts(spark.sql("describe table described_t").collect())
    finally:
        spark.sql("drop view if exists described_v")
        spark.sql("drop table if exists described_t")
    columns = {"id": "the key", "n": None, "Comment": None, "month": "it's the partition"}
    assert list(table["columns"].items()) == list(columns.items())
    assert table["details"]["Comment"] == "one row per id"
    assert view["columns"] == columns
    assert view["details"]["Comment"] == "published"
    assert view["details"]["View Text"] == "select * from described_t"
    assert plain == {"columns": columns, "details": {}}


# --- unit: the exit of dbt's program -----------------------------------------------------------

# An exit handler registered before the adapter is imported runs after the adapter's (Python runs
# them last in, first out): what it prints shows that the freeze ran and that the exit handlers
# registered before it still run. That the files dbt writes are complete is shown by every suite
# that reads dbt's logs and artifacts after a `dbt` process.
EXIT_PROGRAM = """
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
import dbt.adapters.spark_oss
print("imported", gc.get_freeze_count(), flush=True)
"""


def test_dbts_program_leaves_its_objects_at_exit(tmp_path: Path) -> None:
    script = tmp_path / "dbt"
    script.write_text(EXIT_PROGRAM)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["imported 0", "frozen at exit: True"]


# dbt ends every invocation with the adapter's cleanup_connections, which stops the Python
# models' Spark Connect sessions: with none opened, Spark Connect's client (grpc, protobuf) is
# not imported for it (what that saves: the adapter's README).
CLEANUP_PROGRAM = """
import sys
from dbt.adapters.spark_oss.python_submissions import close_connect_sessions
close_connect_sessions()
print(sorted(name for name in sys.modules if name.startswith("pyspark.sql.connect")))
"""


def test_closing_no_connect_sessions_does_not_import_spark_connect() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CLEANUP_PROGRAM], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv0", "is_dbt"),
    [
        ("dbt", True),
        ("/project/.venv/bin/dbt", True),
        ("/project/tests/python/warm_dbt.py", False),
        ("/project/.venv/lib/python3.11/site-packages/dbt/cli/main.py", False),
        ("/project/.venv/bin/pytest", False),
        ("", False),
    ],
)
def test_is_dbt_program_names_only_dbts_console_script(argv0: str, is_dbt: bool) -> None:
    assert is_dbt_program(argv0) is is_dbt


# --- end to end: dbt build on the embedded target ---------------------------------------------


def _dbt(
    project: Path, state: Path, *args: str, warm: bool = True
) -> subprocess.CompletedProcess[str]:
    return DbtProject(state, project_dir=project, warm=warm).dbt(*args, check=False)


def _catalog(state: Path, *statements: str) -> list[list[dict[str, Any]]]:
    """``DbtProject.catalog`` with the builds' own project folder, so that their warm runner
    answers (another folder is another environment: a new runner, started cold)."""
    return DbtProject(state, project_dir=state / "project").catalog(*statements)


def _table(state: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(DbtProject(state).table_path(SCHEMA, name))


def _results(state: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((state / "target" / "run_results.json").read_text())
    return {
        r["unique_id"].split(".")[-1 if r["unique_id"].startswith("model") else 2]: r
        for r in data["results"]
    }


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _seed() -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(RAW_ORDERS))


def _latest_orders(batch: int) -> pd.DataFrame:
    """Independent computation of stg_orders: latest version of each order up to ``batch``."""
    seed = _seed()
    loaded = seed[seed["batch"] <= batch].sort_values(["order_id", "batch"])
    return loaded.groupby("order_id", as_index=False).last()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build batch 1 (all good), snapshot, then batch 2 with a breaking model and bad UDF calls."""
    state = tmp_path_factory.mktemp("spark_oss_e2e")
    project = write_project(state / "project")
    tables = ["orders_enriched", "customer_totals_pd", "orders_append", "orders_merge"]
    tables += ["fragile_model", "fragile_incremental", "merchants_udf", "cache_probe"]

    started = time.monotonic()
    first = _dbt(project, state, "build")
    out: dict[str, Any] = {"state": state, "first": first, "first_results": _results(state)}
    out["first_seconds"] = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-4000:]
    out["first_tables"] = {name: _table(state, name) for name in tables}

    started = time.monotonic()
    second = _dbt(project, state, "build", "--vars", "{batch: 2, with_bad_udf_models: true}")
    out["second_seconds"] = time.monotonic() - started
    out.update(second=second, second_results=_results(state))
    out["second_tables"] = {name: _table(state, name) for name in tables}
    out["log"] = (state / "logs" / "dbt.log").read_text()
    print(f"dbt build timings: {out['first_seconds']:.1f}s, {out['second_seconds']:.1f}s")
    return out


def test_python_table_model_ref_source_config_this(two_builds: dict[str, Any]) -> None:
    got = two_builds["first_tables"]["orders_enriched"].sort_values("order_id")
    customers = pd.DataFrame({"customer_id": [1, 2, 3], "country": ["DE", "FR", "DE"]})
    expected = _latest_orders(1).merge(customers, on="customer_id", how="left")
    assert got["order_id"].tolist() == expected["order_id"].tolist()
    assert got["country"].tolist() == expected["country"].tolist()
    assert got["merchant_key"].tolist() == [
        normalize_merchant_name(n) for n in expected["merchant_name"]
    ]
    assert set(got["materialized_as"]) == {"table"}
    assert set(got["this_relation"]) == {f"{SCHEMA}.orders_enriched"}
    assert set(got["was_incremental"]) == {False}


def test_python_model_returning_pandas(two_builds: dict[str, Any]) -> None:
    got = two_builds["first_tables"]["customer_totals_pd"].sort_values("customer_id")
    expected = _latest_orders(1).groupby("customer_id", as_index=False)["amount"].sum()
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["total_amount"].tolist() == pytest.approx(expected["amount"].tolist())


def test_dbt_tests_run_on_python_models(two_builds: dict[str, Any]) -> None:
    results = two_builds["first_results"]
    data_tests = {
        k: r["status"] for k, r in results.items() if k.startswith(("unique", "not_null"))
    }
    assert data_tests and set(data_tests.values()) == {"pass"}
    assert any("orders_enriched" in k for k in data_tests)


def test_incremental_append_and_merge(two_builds: dict[str, Any]) -> None:
    first, second = two_builds["first_tables"], two_builds["second_tables"]
    assert sorted(first["orders_append"]["order_id"]) == [1, 2, 3, 4]
    # append: batch-1 rows stay, the batch-2 versions are added
    appended = second["orders_append"].sort_values(["order_id", "batch"])
    assert list(zip(appended["order_id"], appended["batch"], strict=True)) == [
        (1, 1),
        (2, 1),
        (3, 1),
        (3, 2),
        (4, 1),
        (5, 2),
    ]
    # merge by order_id: one row per order, latest version; batch-1 rows were re-merged
    merged = second["orders_merge"].sort_values("order_id")
    expected = _latest_orders(2)
    assert merged["order_id"].tolist() == expected["order_id"].tolist()
    assert merged["batch"].tolist() == expected["batch"].tolist()
    assert merged["amount"].tolist() == pytest.approx(expected["amount"].tolist(), nan_ok=True)
    assert two_builds["second_results"]["orders_merge"]["status"] == "success"


def _column_comments(described: list[dict[str, object]]) -> dict[str, object]:
    """`describe table` rows up to the partition information: column name -> comment."""
    comments: dict[str, object] = {}
    for row in described:
        if not row["col_name"] or str(row["col_name"]).startswith("#"):
            break
        comments[str(row["col_name"])] = row["comment"]
    return comments


def test_persist_docs_column_comments_sql_in_the_create_python_by_alter(
    two_builds: dict[str, Any],
) -> None:
    """After the incremental second build: every documented column has its description as the
    comment (the SQL model's partition column too); the SQL model's versions were created with
    them (no `change column`), the Python model's got them by `alter`."""
    sql_docs = {
        "order_id": "Order id; it's the seed's \\ key.",
        "amount": "Amount of the order's latest version.",
        "ordered_hour": "Hour of the order (the partition column).",
    }
    python_docs = {
        "order_id": "Order id; it's the seed's key.",
        "country": "Country of the customer.",
    }
    assert two_builds["second_results"]["orders_by_hour"]["status"] == "success"
    by_hour, enriched = _catalog(
        two_builds["state"],
        f"describe table {SCHEMA}.orders_by_hour",
        f"describe table {SCHEMA}.orders_enriched",
    )
    assert _column_comments(by_hour) == sql_docs
    comments = _column_comments(enriched)
    assert {name: comments[name] for name in python_docs} == python_docs
    altered = [
        line.split(".")[1].split("__v")[0]
        for line in two_builds["log"].splitlines()
        if line.lstrip().startswith(f"alter table {SCHEMA}_versions.") and "change column" in line
    ]
    assert "orders_by_hour" not in altered
    assert altered.count("orders_enriched") == 2 * len(python_docs)  # both builds


def test_contracted_documented_model_is_checked_once_and_keeps_its_columns_apart(
    two_builds: dict[str, Any],
) -> None:
    """An enforced contract listing the columns in another order than the query: the table has
    the contract's order, each column its own values and description. The model's query is
    analysed in one statement per build, a temporary view that keeps its plan, which the
    contract's check, the docs' view and the create read (spark_oss_query_view)."""
    assert two_builds["second_results"]["contracted_orders"]["status"] == "success"
    [described, rows] = _catalog(
        two_builds["state"],
        f"describe table {SCHEMA}.contracted_orders",
        f"select order_key, ordered_hour, amount from {SCHEMA}.contracted_orders",
    )
    assert _column_comments(described) == {
        "order_key": "The order id as text.",
        "ordered_hour": "Hour of the order.",
        "amount": "Amount of the order's latest version.",
    }
    assert [row["col_name"] for row in described[:3]] == ["order_key", "ordered_hour", "amount"]
    latest = _latest_orders(2)
    expected = sorted(
        (str(order_id), int(hour), None if pd.isna(amount) else float(amount))
        for order_id, hour, amount in zip(
            latest["order_id"], latest["ordered_hour"], latest["amount"], strict=True
        )
    )
    got = sorted((r["order_key"], r["ordered_hour"], r["amount"]) for r in rows)
    assert got == expected
    events = re.split(r"\n(?=(?:\x1b\[0m)?\d\d:\d\d:\d\d)", two_builds["log"])
    statements = [
        " ".join(event.split())
        for event in events
        if "On model.spark_oss_fixture.contracted_orders:" in event
    ]
    with_the_query = [s for s in statements if "cast(amount as double) as amount" in s]
    assert len(with_the_query) == 2, with_the_query  # one per build
    for query in with_the_query:  # created while Spark keeps a temporary view's plan
        at = statements.index(query)
        assert "set spark.sql.legacy.storeAnalyzedPlanForView = true" in statements[at - 1]
        assert "reset spark.sql.legacy.storeAnalyzedPlanForView" in statements[at + 1]
    assert all(
        re.search(r"create or replace temporary view \S+__query as", s) for s in with_the_query
    )
    # dbt asks a query's columns with `... as __dbt_sbq where false limit 0`: per build, once for
    # the model's query (its view) and once for the contract's declared columns.
    asked = [s for s in statements if "__dbt_sbq" in s]
    assert len(asked) == 2 * 2, asked
    assert len([s for s in asked if re.search(r"select \* from \S+__query", s)]) == 2
    assert not [s for s in asked if "__column_docs" in s]
    created = [s for s in statements if "create table" in s]
    assert len(created) == 2 and all(re.search(r"from \S+__column_docs", s) for s in created)
    docs_views = [s for s in statements if re.search(r"temporary view \S+__column_docs \(", s)]
    assert len(docs_views) == 2, docs_views
    assert all(re.search(r"from \( select \* from \S+__query", s) for s in docs_views)


def test_meta_cache_serves_later_models_of_the_run_from_memory(
    two_builds: dict[str, Any],
) -> None:
    """`meta.cache: true` (macros/spark_performance.sql): the post-hook caches the table, a later
    model of the same run reads it from memory, an uncached relation is read from its files, and
    on-run-end clears the cache."""
    for build in ("first", "second"):
        assert two_builds[f"{build}_results"]["cache_probe"]["status"] == "success"
    probe = two_builds["second_tables"]["cache_probe"]
    assert dict(zip(probe["relation"], probe["read_from_cache"], strict=True)) == {
        "orders_cached": True,
        "stg_orders": False,
    }
    log = two_builds["log"]
    assert log.count(f"cache lazy table {SCHEMA}.orders_cached") == 2  # one per build
    assert log.count("clear cache") == 2
    assert "cache lazy table" not in log.replace(f"cache lazy table {SCHEMA}.orders_cached", "")


def test_the_relation_cache_lists_a_schema_of_views_in_two_statements(
    two_builds: dict[str, Any],
) -> None:
    """dbt's relation cache learns a schema of views from `show tables` and `show views`
    (SparkOssAdapter.list_relations_without_caching), not from `show table extended`. A schema
    that holds a table gets dbt-spark's listing, which knows its provider; a temporary view is
    no relation of any schema, and a schema that does not exist has none."""
    log = re.sub(r"\s+", " ", two_builds["log"])
    for listing in (f"show tables in {SCHEMA} like '*'", f"show views in {SCHEMA}"):
        assert log.count(listing) == 2  # once per build
    assert "show table extended" not in log
    state = two_builds["state"]
    _catalog(
        state,
        "create schema if not exists only_views",
        "create or replace view only_views.a_view as select 1 as x",
        "create schema if not exists with_a_table",
        "create or replace view with_a_table.a_view as select 1 as x",
        "create table if not exists with_a_table.a_table (x int) using parquet",
    )
    names = ["a_view", "a_table", "listed_temp_view", "absent"]
    kinds, statements = {}, {}
    for schema in ("only_views", "with_a_table", "no_such_schema"):
        log_file = state / "logs" / "dbt.log"
        before = log_file.stat().st_size
        args = json.dumps({"schema": schema, "names": names})
        done = _dbt(state / "project", state, "run-operation", "relation_kinds", "--args", args)
        assert done.returncode == 0, done.stdout[-3000:]
        kinds[schema] = dict(re.findall(r"kind (\w+): ([\w ]+)", done.stdout))
        with log_file.open() as log_text:
            log_text.seek(before)
            statements[schema] = re.findall(
                r"On macro_relation_kinds: /\*.*?\*/\s*(\w+ \w+)", log_text.read(), re.S
            )
    none = dict.fromkeys(names, "none")
    assert kinds == {
        "only_views": {**none, "a_view": "view"},
        "with_a_table": {**none, "a_view": "view", "a_table": "table parquet"},
        "no_such_schema": none,
    }
    # The macro's temporary view, then the listing (dbt lists a schema once per command).
    assert statements["only_views"] == ["create or", "show tables", "show views"]
    assert statements["with_a_table"] == ["create or", "show tables", "show views", "show table"]


def test_versions_schema_is_created_and_located_once_per_invocation(
    two_builds: dict[str, Any],
) -> None:
    """Every table build publishes through `<schema>_versions`; the first one of an invocation
    creates it and asks its location, the others reuse what it learned."""
    builds = two_builds["first_results"], two_builds["second_results"]
    tables = [
        name
        for name, result in builds[0].items()
        if result["status"] == "success" and name in two_builds["first_tables"]
    ]
    assert len(tables) >= 5, tables
    log = re.sub(r"\s+", " ", two_builds["log"])
    assert log.count(f"create schema if not exists {SCHEMA}_versions") == len(builds)
    assert log.count(f"describe schema {SCHEMA}_versions") == len(builds)


def test_a_table_model_turned_into_a_view_drops_its_versions(two_builds: dict[str, Any]) -> None:
    """The view replaces the published name in one `alter view`. The version it replaced stays
    one more build (the rollback target, for readers still scanning it); the next build of the
    view drops it with its files."""
    state = two_builds["state"]
    for build in ("first", "second"):
        assert two_builds[f"{build}_results"]["switched_to_view"]["status"] == "success"
    log = re.sub(r"\s+", " ", two_builds["log"])
    assert f"alter view {SCHEMA}.switched_to_view as" in log
    versions = state / "spark" / "warehouse" / f"{SCHEMA}_versions.db"
    assert len(list(versions.glob("switched_to_view__v*"))) == 1  # batch 1's, just replaced

    project = DbtProject(state, project_dir=state / "project")
    project.dbt("run", "-s", "switched_to_view", dbt_vars={"batch": 2})
    log = re.sub(r"\s+", " ", (state / "logs" / "dbt.log").read_text())
    assert f"drop table if exists {SCHEMA}_versions.switched_to_view__v" in log
    assert not list(versions.glob("switched_to_view__v*"))
    assert list(versions.glob("orders_by_hour__v*"))  # other models' versions stay
    [[view]] = project.catalog(
        f"select count(*) as rows, sum(amount) as amount from {SCHEMA}.switched_to_view"
    )
    latest = _latest_orders(2)
    assert view == {"rows": len(latest), "amount": pytest.approx(latest["amount"].sum())}


def test_failing_python_model_fails_alone_and_keeps_previous_table(
    two_builds: dict[str, Any],
) -> None:
    second = two_builds["second"]
    results = two_builds["second_results"]
    assert second.returncode == 1
    failed = {k for k, r in results.items() if r["status"] in ("error", "fail")}
    assert failed == {
        "fragile_model",
        "fragile_incremental",
        "missing_udf_model",
        "udf_in_view_model",
    }
    # dbt prefixes "Runtime Error in model ..." on its own line; the adapter's part is one line
    message = results["fragile_model"]["message"].splitlines()
    assert len(message) == 2 and message[0].startswith("Runtime Error in model fragile_model")
    expected_line = "Python model failed in models/fragile_model.py, line 5: ValueError: "
    assert message[1].strip().startswith(expected_line + "simulated bug: batch 2")
    assert "Traceback" not in second.stdout  # console: the one line only; traceback in the log
    assert "Traceback (most recent call last)" in two_builds["log"]
    assert 'raise ValueError(f"simulated bug' in two_builds["log"]
    # the batch-1 version of the table is still there, untouched
    kept = two_builds["second_tables"]["fragile_model"]
    pd.testing.assert_frame_equal(kept, two_builds["first_tables"]["fragile_model"])
    assert kept["batch"].tolist() == [1]
    kept = two_builds["second_tables"]["fragile_incremental"]  # full refresh: swap path too
    pd.testing.assert_frame_equal(kept, two_builds["first_tables"]["fragile_incremental"])
    schemas = two_builds["state"] / "spark" / "warehouse"
    leftovers = [p.name for p in (schemas / f"{SCHEMA}.db").iterdir() if "__dbt" in p.name]
    leftovers += [p.name for p in (schemas / f"{SCHEMA}_versions.db").iterdir() if "_new" in p.name]
    assert leftovers == []
    # the failed build published nothing: fragile_model's batch-1 version is the newest one
    versions = warehouse.versions(schemas, SCHEMA, "fragile_model")
    assert pd.read_parquet(versions[0])["batch"].tolist() == [1]


def test_sql_model_calls_python_udfs(two_builds: dict[str, Any]) -> None:
    got = two_builds["first_tables"]["merchants_udf"].sort_values("order_id")
    orders = _latest_orders(1)
    assert got["merchant_key"].tolist() == [
        normalize_merchant_name(n) for n in orders["merchant_name"]
    ]
    expected = [
        _or_nan(transaction_risk_score(None if pd.isna(a) else a, h, c == 2))
        for a, h, c in zip(
            orders["amount"], orders["ordered_hour"], orders["customer_id"], strict=True
        )
    ]
    assert got["risk_score"].tolist() == pytest.approx(expected, nan_ok=True)
    assert got["risk_score"].isna().sum() == 1  # order 4 has no amount


CONF_MODELS = ("conf_set_by_pre_hook", "conf_after_pre_hook")


def test_a_pre_hook_set_holds_for_its_model_and_not_the_next(two_builds: dict[str, Any]) -> None:
    """dbt-spark's session cursor applied the profile's settings again before every statement,
    undoing a pre-hook's `set` of one before the model's own SQL ran; the Thrift Server keeps it
    (test_thrift_target_python_models_via_spark_connect checks the same two models there). Two
    threads: each connection has a session of its own (test_connection_sessions.py)."""
    state = two_builds["state"]
    run = _dbt(state / "project", state, "run", "-s", *CONF_MODELS, "--threads", "2")
    assert run.returncode == 0, run.stdout[-3000:]
    seen = {name: _table(state, name)["shuffle_partitions"].tolist() for name in CONF_MODELS}
    # 2: the profile's value (tests/python/profiles.py, one shuffle partition per core)
    assert seen == {"conf_set_by_pre_hook": ["7"], "conf_after_pre_hook": ["2"]}


def _check_data_tests_sessions(project: Path, state: Path, *, passed_on: bool) -> None:
    """On one thread the data tests run in name order: `not_null` twice, the test that `set`s 5
    shuffle partitions, the test that fails on 5, then the project's `unique` (a setting of its
    own). On a Thrift target (``passed_on``) a data test that only ran queries passes its session
    on to the next data test (the adapter's connection manager); one that ran a `set` closes its
    own, so the test after it sees the target's settings again. Embedded, each opens and closes
    its own."""
    log = state / "logs" / "dbt.log"
    logged_before = log.stat().st_size
    selected = ("orders_enriched", "conf_set_by_pre_hook")
    tested = _dbt(project, state, "test", "-s", *selected, "--threads", "1")
    assert tested.returncode == 0, tested.stdout[-3000:]
    results = json.loads((state / "target" / "run_results.json").read_text())["results"]
    ran = [r["unique_id"] for r in results if r["unique_id"].startswith("test.")]
    assert [name.split(".")[2] for name in ran] == [
        "not_null_orders_enriched_country",
        "not_null_orders_enriched_order_id",
        "shuffle_partitions_conf_set_by_pre_hook_5",
        "shuffle_partitions_then_as_configured",
        "unique_orders_enriched_order_id",
    ]
    with log.open("rb") as logged:
        logged.seek(logged_before)
        lines = logged.read().decode().splitlines()
    opened, running = [], None  # the data tests that opened a connection, in order
    for line in lines:
        if started := re.search(r"Began running node (test\.[\w.]+)", line):
            running = started.group(1)
        elif "Finished running node" in line:
            running = None
        elif running and "Opening a new connection" in line:
            opened.append(running)
    closed = {found for line in lines for found in re.findall(r"On (test\.[\w.]+): Close\b", line)}
    if passed_on:  # a session for the first test and one after the `set`; each `set` closes it
        assert (opened, closed) == ([ran[0], ran[3]], {ran[2], ran[4]}), (opened, closed)
    else:
        assert (opened, closed) == (ran, set(ran)), (opened, closed)


def test_a_data_tests_spark_settings_hold_for_its_query_only(two_builds: dict[str, Any]) -> None:
    """A data test has no hooks: its ``meta.spark_settings`` are `set` by the adapter's test
    materialization. The test on conf_set_by_pre_hook passes only if its query saw 5 shuffle
    partitions; on one thread, the next model and its test run after it on the same thread and
    see the profile's value (test_thrift_target_python_models_via_spark_connect: the same on the
    Thrift Server)."""
    state = two_builds["state"]
    build = _dbt(state / "project", state, "build", "-s", "conf_set_by_pre_hook+", "--threads", "1")
    assert build.returncode == 0, build.stdout[-3000:]
    tests = {
        name: result["status"]
        for name, result in _results(state).items()
        if result["unique_id"].startswith("test.")
    }
    assert tests == {
        "shuffle_partitions_conf_set_by_pre_hook_5": "pass",
        "shuffle_partitions_then_as_configured": "pass",
        "shuffle_partitions_conf_after_pre_hook_5": "pass",
    }
    assert _table(state, "conf_after_pre_hook")["shuffle_partitions"].tolist() == ["2"]
    _check_data_tests_sessions(state / "project", state, passed_on=False)

    refused = _dbt(
        state / "project",
        state,
        "test",
        "-s",
        "spark_settings_bad_name",
        "spark_settings_bad_value",
        "--vars",
        "{with_bad_test_settings: true}",
    )
    assert refused.returncode == 1
    assert (
        "'spark.sql.shuffle.partitions=1; select 1' is not a Spark setting's name" in refused.stdout
    ), refused.stdout[-3000:]
    assert (
        "the value of spark.sql.shuffle.partitions must be a word or a number" in refused.stdout
    ), refused.stdout[-3000:]

    # The project's `unique` runs with its setting and still finds each repeated key.
    duplicates = _dbt(
        state / "project",
        state,
        "test",
        "-s",
        "unique_raw_orders_order_id",
        "--vars",
        "{with_duplicate_check: true}",
    )
    assert duplicates.returncode == 1
    seed_keys = _seed()["order_id"].value_counts()
    assert _results(state)["unique_raw_orders_order_id"]["failures"] == (seed_keys > 1).sum() == 1
    log = (state / "logs" / "dbt.log").read_text()
    assert re.search(
        r"On test\.spark_oss_fixture\.unique_raw_orders_order_id\.\w+: /\*.*\*/\n"
        r"set spark\.sql\.execution\.bypassPartialAggregation=true",
        log,
    ), log[-3000:]


def test_missing_or_misused_udf_fails_with_clear_message(two_builds: dict[str, Any]) -> None:
    results = two_builds["second_results"]
    missing = results["missing_udf_model"]["message"]
    assert "Python UDF 'no_such_udf'" in missing
    assert "model.spark_oss_fixture.missing_udf_model" in missing
    assert "is not registered in the Spark session of target 'local'" in missing
    view = results["udf_in_view_model"]["message"]
    assert "materialized as a view" in view and "normalize_merchant_name" in view


def test_session_starts_while_dbt_parses(two_builds: dict[str, Any]) -> None:
    """On the embedded target a command that runs statements starts Spark (JVM, metastore lock,
    UDFs) in a background thread when the adapter is registered, so that the JVM's start and
    dbt's parse overlap."""
    first_build = two_builds["log"].split("Running with dbt=")[1].splitlines()
    started = [i for i, line in enumerate(first_build) if "Spark session while dbt parses" in line]
    parsed = [i for i, line in enumerate(first_build) if re.search(r"Found \d+ models?", line)]
    udfs = [line for line in first_build if "Registered Python UDFs" in line]
    assert started and parsed and started[0] < parsed[0], first_build[:40]
    assert f"[{SESSION_START_THREAD}]" in first_build[started[0]]
    assert udfs and f"[{SESSION_START_THREAD}]" in udfs[0], udfs


def test_commands_without_statements_start_no_spark(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    for command in (("ls", "--resource-type", "model"), ("parse",)):
        result = _dbt(project, tmp_path, *command, warm=False)
        assert result.returncode == 0, result.stdout[-3000:]
        assert not (tmp_path / "spark" / ".dbt-session.lock").exists(), command
        assert not (tmp_path / "spark" / "metastore_db").exists(), command


def test_a_failed_early_start_fails_the_command_once(tmp_path: Path) -> None:
    """The early start meets a metastore still held by a killed run's JVM and gives up after
    the wait: every statement of the command gets that error, none waits again (the
    repository's project: dbt lists its schemas one statement each)."""
    wait = 15
    jvm = fake_jvm(10 * wait)
    try:
        orphaned_lock(tmp_path / "spark" / ".dbt-session.lock", jvm.pid)
        dbt = DbtProject(tmp_path, extra_env=(("SPARK_METASTORE_JVM_WAIT", str(wait)),), warm=False)
        started = time.monotonic()
        run = dbt.dbt("run", check=False)
        elapsed = time.monotonic() - started
    finally:
        jvm.kill()
        jvm.wait()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"still held by the JVM (pid {jvm.pid})" in output, output[-3000:]
    # One wait, beside the parse; a retry per statement would add one per listed schema (5).
    assert elapsed < 3 * wait, f"{elapsed:.1f}s"


def test_second_dbt_process_fails_fast_on_held_metastore_lock(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    lock = tmp_path / "spark" / ".dbt-session.lock"
    holder = _hold_lock(lock)
    try:
        started = time.monotonic()
        # A `dbt` process of its own: Derby's trace would be on its console, not in a log.
        run = _dbt(project, tmp_path, "run", "--select", "stg_orders", warm=False)
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert str(lock) in output and f"pid {holder.pid}" in output, output[-3000:]
    assert "ERROR XSDB6" not in output  # no Derby stack trace
    assert not (tmp_path / "spark" / "metastore_db").exists()  # failed before Spark started
    print(f"lock refusal took {elapsed:.1f}s")


# --- cluster: Thrift server + Spark Connect in one application (needs --runcluster) -----------

CLUSTER_PROFILE = """
spark_oss_fixture:
  target: cluster
  outputs:
    cluster:
      type: spark_oss
      method: thrift
      host: 127.0.0.1
      port: {thrift_port}
      user: dbt
      auth: NONE
      schema: fixture
      threads: 2
      connect_url: sc://127.0.0.1:{connect_port}
"""


@pytest.mark.cluster
def test_thrift_target_python_models_via_spark_connect(tmp_path: Path) -> None:
    thrift_port = free_port()
    connect_port = free_port(avoid={thrift_port})
    server_state = tmp_path / "server"
    server = start_thrift_connect_app(server_state, thrift_port, connect_port)
    try:
        deadline = time.monotonic() + 300
        while not (port_open(thrift_port) and port_open(connect_port)):
            assert server.poll() is None, (server_state / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Thrift/Connect server did not start in 300 s"
            time.sleep(2)
        assert_started_from_the_server_archive(server.pid)  # spark-submit execs the JVM
        project = write_project(tmp_path / "project")
        (project / "profiles.yml").write_text(
            CLUSTER_PROFILE.format(thrift_port=thrift_port, connect_port=connect_port)
        )
        build = _dbt(project, tmp_path, "build", "--exclude", "merchants_udf")
        assert build.returncode == 0, build.stdout[-4000:]
        # A data test's meta.spark_settings hold for its query on the server too: the test on
        # conf_set_by_pre_hook passes only with 5 shuffle partitions, the next one only without.
        settings_tests = {
            name: result["status"]
            for name, result in _results(tmp_path).items()
            if name.startswith("shuffle_partitions_")
        }
        assert settings_tests == {
            "shuffle_partitions_conf_set_by_pre_hook_5": "pass",
            "shuffle_partitions_then_as_configured": "pass",
            "shuffle_partitions_conf_after_pre_hook_5": "pass",
        }
        _check_data_tests_sessions(project, tmp_path, passed_on=True)
        # written by Python models over Connect, visible to the Thrift session's tests
        enriched = pd.read_parquet(
            warehouse.table_path(server_state / "warehouse", "fixture", "orders_enriched")
        )
        assert sorted(enriched["order_id"]) == [1, 2, 3, 4]
        # a pre-hook's `set` holds for its model only, as on the embedded target: the next
        # model's session has the server's value
        seen = {
            name: pd.read_parquet(
                warehouse.table_path(server_state / "warehouse", "fixture", name)
            )["shuffle_partitions"].tolist()
            for name in CONF_MODELS
        }
        assert seen == {
            "conf_set_by_pre_hook": ["7"],
            "conf_after_pre_hook": [_thrift_setting(thrift_port, "spark.sql.shuffle.partitions")],
        }
        assert seen["conf_after_pre_hook"] != ["7"]
        assert set(enriched["merchant_key"]) == {
            normalize_merchant_name(n) for n in _latest_orders(1)["merchant_name"]
        }
        # A row that breaks an enforced contract stops the create on the server; the Thrift
        # error is recognised and reported with the count and keys, as on the embedded target.
        (project / "models" / "violating_orders.sql").write_text(
            "select * from values (1, 'c1'), (2, null) as t(order_id, customer_id)"
        )
        (project / "models" / "_violating.yml").write_text(
            "version: 2\nmodels:\n  - name: violating_orders\n    config:\n"
            "      materialized: table\n      contract: {enforced: true}\n    columns:\n"
            "      - name: order_id\n        data_type: int\n"
            "      - name: customer_id\n        data_type: string\n"
            "        constraints: [{type: not_null}]\n"
        )
        violation = _dbt(project, tmp_path, "run", "--select", "violating_orders")
        assert violation.returncode == 1
        assert (
            "Contract of violating_orders violated, nothing published (the previous version "
            "stays): not_null_customer_id (customer_id is not null): 1 rows, e.g. order_id = 2"
        ) in violation.stdout, violation.stdout[-3000:]
        # SQL over Thrift cannot call the Python UDFs: a clear error, not a wrong result
        udf_run = _dbt(project, tmp_path, "run", "--select", "merchants_udf")
        assert udf_run.returncode == 1
        assert "is not registered in the Spark session of target 'cluster'" in udf_run.stdout
        # Each command closes its Connect session; the next one opens a new session and registers
        # the UDFs on it (same dbt process: the warm runner).
        runner = DbtProject(tmp_path, project_dir=project).state_dir
        rerun = _dbt(project, tmp_path, "run", "--select", "orders_enriched")
        assert rerun.returncode == 0, rerun.stdout[-4000:]
        # The dbt process outlives the server and still exits at once (PySpark's at-exit
        # clean-up of an open session used to retry against it for minutes).
        _stop_server(server)
        assert warm_dbt.runner_pid(runner) is not None
        started = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warm_dbt.stop warns when it had to kill the runner
            warm_dbt.stop(runner)
        assert time.monotonic() - started < 30
    finally:
        _stop_server(server)


def _thrift_setting(port: int, key: str) -> str:
    """A setting's value in a new session of the Thrift Server."""
    from pyhive import hive

    with contextlib.closing(hive.connect(host="127.0.0.1", port=port, username="dbt")) as conn:
        cursor = conn.cursor()
        cursor.execute(f"set {key}")
        return str(cursor.fetchall()[0][1])


def _stop_server(server: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
