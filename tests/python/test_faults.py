"""Fault suite of the crash-safe publishing (docs/reliability.md): `make faults`.

Every materialization of the fault project (tests/python/fault_project.py) is killed with SIGKILL
at each point of its build (the adapter's SPARK_OSS_FAULT_POINT hook kills dbt exactly there, as
`kill -9` would), and once in the middle of a long write; readers must see the previously published
version unchanged until the flip, and one plain rerun must give tables equal to a clean run's.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from spark_analytics import warehouse
from spark_analytics.cluster.processes import free_port
from tests.python import warm_dbt
from tests.python.dbt_project import DbtProject
from tests.python.fault_project import MODELS, ORDERS, SCHEMA, FaultProject
from tests.python.fault_table import RecordFault
from tests.python.thrift_app import start_thrift_connect_app, wait_until_serving

# before_build is not killed here: nothing is written before it (the versions schema only).
POINTS = ("before_publish", "after_publish")
# Without --runslow (CI), one model per materialization file: table.sql (a SQL table) and
# incremental.sql (a Python merge, copy-on-write); `make faults` (--runslow) kills all of them.
CI_MODELS = ("sql_table", "py_merge")


def _content(state: dict[str, dict[str, object] | None]) -> dict[str, tuple[object, object]]:
    """Rows and fingerprint per model (what a reader sees), without the version ids."""
    return {
        name: (entry["rows"], entry["fingerprint"]) if entry else None
        for name, entry in state.items()
    }


@pytest.fixture(scope="module")
def fault_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[FaultProject, dict[int, dict]]:
    """The killed project's first build (batch 1, schema SCHEMA) and, in schema
    ``<SCHEMA>_clean`` of the same metastore, the content of every model after a clean batch-1
    build and a clean batch-2 build. Nothing is killed here, so the three builds run in one warm
    dbt process (tests/python/warm_dbt.py), stopped before the killed builds' processes open the
    metastore."""
    faulty = FaultProject(tmp_path_factory.mktemp("faults"))
    # DBT_SCHEMA pinned as for the killed builds' processes (FaultProject.env): a user's own
    # DBT_SCHEMA must not move the killed project's first build elsewhere.
    project = DbtProject(
        faulty.workdir, extra_env=(("DBT_SCHEMA", SCHEMA),), project_dir=faulty.project
    )
    clean = project.in_schema(f"{SCHEMA}_clean")
    try:
        states = {
            batch: FaultProject.state(
                clean.dbt("build", dbt_vars={"batch": batch}), "FAULT_STATE_END"
            )
            for batch in (1, 2)
        }
        project.dbt("build", dbt_vars={"batch": 1})
    finally:
        warm_dbt.stop(project.state_dir)  # Derby admits one JVM: the killed builds' own
    return faulty, {batch: _content(state) for batch, state in states.items()}


@pytest.fixture(scope="module")
def clean_runs(fault_builds: tuple[FaultProject, dict[int, dict]]) -> dict[int, dict]:
    return fault_builds[1]


@pytest.fixture(scope="module")
def faulty(fault_builds: tuple[FaultProject, dict[int, dict]]) -> FaultProject:
    return fault_builds[0]


def test_kill_at_every_point_of_every_materialization_then_rerun(
    faulty: FaultProject,
    clean_runs: dict[int, dict],
    request: pytest.FixtureRequest,
    record_fault: RecordFault,
) -> None:
    killed_models = MODELS if request.config.getoption("--runslow") else CI_MODELS
    killed_at: tuple[str, str] | None = None
    published: dict[str, dict | None] = {}
    for point in (*POINTS, None):
        for model in killed_models if point else ["(plain rerun)"]:
            if point is None:  # a plain rerun of everything, no clean-up
                run = faulty.dbt("build", batch=2)
            else:
                # `+model`: stg_orders is a view compiled with the batch var, rebuilt first.
                fault = f"{point}:{model}"
                run = faulty.dbt("build", "-s", f"+{model}", fault=fault, batch=2, check=False)
            # What readers saw after the previous kill (printed before anything was built).
            seen = faulty.state(run, "FAULT_STATE_START")
            if killed_at is None:
                assert _content(seen) == clean_runs[1]
            else:
                before_point, before_model = killed_at
                entry, old = seen[before_model], published[before_model]
                assert entry is not None and entry["type"] == "view", (killed_at, entry)
                if before_point == "after_publish":
                    assert entry["version"] != old["version"], killed_at  # the flip happened
                    assert _content(seen)[before_model] == clean_runs[2][before_model], killed_at
                    outcome = "the new version, complete"
                else:
                    assert entry == old, (killed_at, entry, old)  # same version, same rows
                    outcome = "the previous version, unchanged"
                record_fault(
                    f"kill -9 {before_point.replace('_', ' ')}: {MODELS[before_model]}",
                    f"readers see {outcome}",
                )
            published = seen
            if point is None:
                break
            assert run.returncode == -signal.SIGKILL, (point, model, run.stdout[-3000:])
            killed_at = (point, model)

    assert _content(faulty.state(run, "FAULT_STATE_END")) == clean_runs[2]
    for model in MODELS:
        kept = warehouse.versions(faulty.warehouse, SCHEMA, model)
        assert 1 <= len(kept) <= 2, (model, [p.name for p in kept])
    record_fault(
        "plain rerun after all the kills above",
        "succeeds without clean-up; every table equals a clean run's; at most 2 versions kept",
    )


@pytest.mark.slow  # 4 min; make faults runs it (--runslow)
def test_kill_during_a_long_write_then_rerun(
    faulty: FaultProject, clean_runs: dict[int, dict], record_fault: RecordFault
) -> None:
    before = faulty.state(faulty.dbt("run", "-s", "sql_table", batch=2), "FAULT_STATE_END")
    versions_dir = faulty.warehouse / f"{SCHEMA}_versions.db"
    known = {p.name for p in versions_dir.iterdir()}
    process = subprocess.Popen(
        faulty.dbt_command("run", "-s", "sql_table", batch=2, slow_rows=400_000_000),
        cwd=faulty.project,
        env=faulty.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    writing: list[Path] = []
    while not writing:
        assert process.poll() is None, "the long write finished before it could be killed"
        assert time.monotonic() < deadline, "no version directory was being written"
        writing = [
            p for p in versions_dir.iterdir() if p.name not in known and (p / "_temporary").exists()
        ]
        time.sleep(0.2)
    time.sleep(1.0)  # well inside the write
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (writing[0] / "_SUCCESS").exists()
    rerun = faulty.dbt("build", batch=2)
    assert faulty.state(rerun, "FAULT_STATE_START")["sql_table"] == before["sql_table"]
    assert _content(faulty.state(rerun, "FAULT_STATE_END")) == clean_runs[2]
    assert not writing[0].exists()  # the killed write's directory was removed
    record_fault(
        "kill -9 in the middle of a CTAS write (table, SQL)",
        "previous version still published; rerun succeeds (no LOCATION_ALREADY_EXISTS), "
        "tables equal a clean run's, the half-written directory is removed",
    )


def _expected_reads() -> dict[int, tuple[int, Decimal]]:
    """(rows, sum of amount) of sql_partitioned_table per batch, computed from the seed text."""
    rows = list(csv.DictReader(io.StringIO(ORDERS)))
    return {
        batch: (
            sum(1 for r in rows if int(r["batch"]) <= batch),
            sum((Decimal(r["amount"]) for r in rows if int(r["batch"]) <= batch), Decimal(0)),
        )
        for batch in (1, 2)
    }


@pytest.mark.cluster
def test_thrift_reader_never_sees_a_missing_or_partial_table(
    tmp_path: Path, record_fault: RecordFault
) -> None:
    from pyhive import hive

    project = FaultProject(tmp_path / "client")
    thrift_port = free_port()
    connect_port = free_port(avoid={thrift_port})
    server_state = tmp_path / "server"
    server = start_thrift_connect_app(server_state, thrift_port, connect_port)
    ports = {"FAULT_THRIFT_PORT": str(thrift_port), "FAULT_CONNECT_PORT": str(connect_port)}
    try:
        wait_until_serving(server, server_state, thrift_port, connect_port)
        project.dbt("build", "-s", "+sql_partitioned_table", "--target", "thrift", env=ports)
        valid = _expected_reads()
        reads: list[tuple[int, Decimal]] = []
        errors: list[str] = []
        stop = threading.Event()

        def poll() -> None:
            connection = hive.connect(host="127.0.0.1", port=thrift_port, username="reader")
            cursor = connection.cursor()
            while not stop.is_set():
                try:
                    cursor.execute(
                        f"select count(*), sum(amount) from {SCHEMA}.sql_partitioned_table"
                    )
                    count, total = cursor.fetchall()[0]
                    reads.append((int(count), Decimal(str(total))))
                except Exception as exc:  # every failure is a finding, not a crash
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
            connection.close()

        reader = threading.Thread(target=poll, daemon=True)
        reader.start()
        rebuilds = 4
        for batch in (2, 1, 2, 1)[:rebuilds]:
            project.dbt(
                "run",
                "-s",
                "stg_orders",
                "sql_partitioned_table",
                "--target",
                "thrift",
                batch=batch,
                env=ports,
            )
        stop.set()
        reader.join(timeout=60)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    wrong = [read for read in reads if read not in valid.values()]
    assert errors == [], errors[:5]
    assert wrong == [], wrong[:5]
    assert len(reads) >= 20 and set(reads) == set(valid.values()), (len(reads), set(reads))
    record_fault(
        f"reader polling over the Thrift Server during {rebuilds} rebuilds "
        "(table, SQL, partitioned)",
        f"{len(reads)} reads: 0 errors, 0 empty or partial reads (each read is a whole version)",
    )
