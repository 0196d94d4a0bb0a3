"""The local Spark standalone cluster (spark_analytics.cluster) and the dbt `cluster` target.

Unmarked tests are pure and fast (they run in `make test`). Tests marked `cluster` share ONE
cluster started by a module-scoped fixture on free ports with its state in a tmp dir; they run
with `make cluster-test` (pytest --runcluster -m cluster tests/python/test_cluster.py).
They do not depend on their order: each creates the tables it reads (the build comparison
also reads the session's shared embedded build, conftest.py `clean_project`), and the `cluster`
fixture starts the shared cluster again if a test (the `down` test) stopped it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from spark_analytics import cluster as cl
from spark_analytics.cluster import archive as server_archive
from spark_analytics.cluster.processes import free_port
from spark_analytics.cluster.security import connect_url, read_token
from spark_analytics.settings import ENV_DEFAULTS, session_conf
from spark_analytics.warehouse import table_path as published_path
from tests.python.dbt_project import CONNECT_MODE_VARIABLES, DbtProject, failure_report
from tests.python.thrift_app import assert_started_from_the_server_archive

REPO = Path(__file__).resolve().parents[2]
IN_ENV = str(REPO / "scripts" / "in_env.sh")
# Selectors to leave out of the cluster's build (default: nothing, the whole project).
DBT_EXCLUDE = os.environ.get("CLUSTER_TEST_DBT_EXCLUDE", "")
# Columns that record when or where a run happened, not what it computed.
RUN_SPECIFIC_COLUMNS = ("trained_at", "model_path")
# A snapshot's row ids and validity start are the time of the run (check strategy).
SNAPSHOT_RUN_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from")


# --------------------------------------------------------------------------------------------
# Pure tests (no cluster)


def test_parse_ss_finds_address_port_and_every_pid() -> None:
    out = (
        'LISTEN 0 4096 [::ffff:127.0.0.1]:7077 *:* users:(("java",pid=11,fd=301))\n'
        'LISTEN 0 50 0.0.0.0:10000 0.0.0.0:* users:(("java",pid=12,fd=3),("java",pid=13,fd=3))\n'
        'LISTEN 0 50 [::]:4040 [::]:* users:(("java",pid=14,fd=9))\n'
        "LISTEN 0 128 127.0.0.1:22 0.0.0.0:*\n"
    )
    got = cl.parse_ss(out)
    assert [(x.address, x.port, x.pid) for x in got] == [
        ("[::ffff:127.0.0.1]", 7077, 11),
        ("0.0.0.0", 10000, 12),
        ("0.0.0.0", 10000, 13),
        ("[::]", 4040, 14),
    ]
    assert [x.loopback for x in got] == [True, False, False, False]


def test_busy_port_error_names_the_port_and_env_var(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        busy = sock.getsockname()[1]
        settings = replace(_free_settings(tmp_path), thrift_port=busy)
        with pytest.raises(cl.ClusterError) as err:
            cl.check_ports_free(settings)
    message = str(err.value)
    assert f"port {busy} (thrift server) is already in use" in message
    assert "set SPARK_THRIFT_PORT" in message


def test_same_port_twice_is_rejected(tmp_path: Path) -> None:
    settings = _free_settings(tmp_path)
    settings = replace(settings, connect_port=settings.thrift_port)
    with pytest.raises(cl.ClusterError, match="configured twice"):
        cl.check_ports_free(settings)


def test_every_configured_listener_is_loopback(tmp_path: Path) -> None:
    settings = cl.Settings(state_dir=tmp_path)
    command = " ".join(cl.app_command(settings))
    for setting in (
        "spark.driver.bindAddress=127.0.0.1",
        "spark.driver.host=127.0.0.1",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "hive.server2.thrift.bind.host=127.0.0.1",
        f"spark.sql.warehouse.dir={tmp_path / 'warehouse'}",
        f"spark.plugins={cl.CONNECT_PLUGIN}",
    ):
        assert setting in command
    for cmd in (cl.master_command(settings), cl.worker_command(settings, 1)):
        assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cl.worker_command(settings, 1)[-1] == "spark://127.0.0.1:7077"
    assert "--webui-port" in cl.worker_command(settings, 1)
    assert str(settings.worker_ui_port + 1) in cl.worker_command(settings, 1)


def test_servers_start_from_the_archive_with_its_class_path_when_it_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One rule (spark_analytics.cluster.archive.launch) for the cluster's application and the
    tests' servers: with the archive, a class path that does not depend on the state folder."""
    from tests.python.thrift_app import thrift_connect_app_conf

    archive = tmp_path / "cds" / "server.aot"
    monkeypatch.setenv(server_archive.SERVER_ARCHIVE_ENV, str(archive))
    states = [tmp_path / "one", tmp_path / "two"]
    # Not built yet: each server keeps the shim in its state folder, and no archive option.
    for state in states:
        assert server_archive.launch(state) == server_archive.Launch(
            state / "jars" / "spark-analytics-hive-llap-shim.jar", None, ""
        )
    monkeypatch.setenv(server_archive.SERVER_ARCHIVE_ENV, "")  # turned off
    assert server_archive.launch(states[0]).java_options == ""
    monkeypatch.setenv(server_archive.SERVER_ARCHIVE_ENV, str(archive))
    archive.parent.mkdir()
    archive.write_bytes(b"")
    launches = [server_archive.launch(state) for state in states]
    assert launches[0] == launches[1]  # the same for every state folder
    shared = server_archive.class_path_dir(archive)
    assert launches[0].shim_jar == shared / "jars" / "spark-analytics-hive-llap-shim.jar"
    assert launches[0].conf_dir == shared / "conf" and not any(launches[0].conf_dir.iterdir())
    assert f'-XX:AOTCache="{archive}"' in launches[0].java_options
    written = launches[0].shim_jar.stat().st_mtime_ns
    time.sleep(0.01)
    server_archive.launch(states[0])  # the archive records the jar's time: left alone
    assert launches[0].shim_jar.stat().st_mtime_ns == written
    settings = cl.Settings(state_dir=states[0])
    command = cl.app_command(settings)
    options = command[command.index("--driver-java-options") + 1]
    assert f'-XX:AOTCache="{archive}"' in options
    log4j = states[0] / "conf" / "log4j2.properties"
    assert f'-Dlog4j2.configurationFile="{log4j}"' in options
    class_path = cl.app_conf(settings)["spark.driver.extraClassPath"]
    tests_server = thrift_connect_app_conf(states[1], connect_port=15002)
    assert class_path == tests_server["spark.driver.extraClassPath"] == str(launches[0].shim_jar)
    assert f'-XX:AOTCache="{archive}"' in tests_server["spark.driver.extraJavaOptions"]


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLUSTER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SPARK_THRIFT_PORT", "12345")
    monkeypatch.setenv("CLUSTER_WORKERS", "3")
    settings = cl.Settings.from_env()
    assert settings.state_dir == tmp_path.resolve()
    assert settings.jdbc_url == "jdbc:hive2://127.0.0.1:12345/default"
    assert len([p for p in settings.fixed_ports() if "worker" in p.component]) == 3
    monkeypatch.setenv("SPARK_THRIFT_PORT", "ten")
    with pytest.raises(cl.ClusterError, match="SPARK_THRIFT_PORT"):
        cl.Settings.from_env()


def test_local_mode_is_the_application_alone_with_the_embedded_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in (*ENV_DEFAULTS, "CLUSTER_DRIVER_MEMORY", "CLUSTER_SHUFFLE_PARTITIONS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CLUSTER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CLUSTER_WORKERS", "0")
    settings = cl.Settings.from_env()
    embedded = session_conf()  # profiles.yml's `local` output reads the same settings
    assert settings.local_mode
    assert settings.master_url == embedded["spark.master"] == "local[*]"
    assert settings.driver_memory == embedded["spark.driver.memory"]
    assert str(settings.shuffle_partitions) == embedded["spark.sql.shuffle.partitions"]
    assert [p.component for p in settings.fixed_ports()] == [
        "thrift server",
        "spark connect",
        "application web UI",
    ]
    conf = cl.app_conf(settings)
    assert conf["spark.master"] == "local[*]"
    assert not [key for key in conf if key.startswith(("spark.executor", "spark.cores"))]
    command = cl.app_command(settings)
    assert command[command.index("--master") + 1] == "local[*]"
    assert command[command.index("--driver-memory") + 1] == embedded["spark.driver.memory"]
    # The embedded session's variables move the server with it; the CLUSTER_ ones win.
    monkeypatch.setenv("SPARK_MASTER", "local[2]")
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "16")
    monkeypatch.setenv("CLUSTER_DRIVER_MEMORY", "3g")
    settings = cl.Settings.from_env()
    assert (settings.master_url, settings.shuffle_partitions, settings.driver_memory) == (
        "local[2]",
        16,
        "3g",
    )
    monkeypatch.setenv("SPARK_MASTER", "local[3]")  # read once, by from_env
    assert settings.master_url == "local[2]"
    # A CLUSTER_ variable replaces the embedded one without reading it.
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "many")
    monkeypatch.setenv("CLUSTER_SHUFFLE_PARTITIONS", "8")
    assert cl.Settings.from_env().shuffle_partitions == 8
    monkeypatch.delenv("CLUSTER_SHUFFLE_PARTITIONS")
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "16")
    # With workers, none of them: the standalone master and the cluster's own sizes.
    monkeypatch.delenv("CLUSTER_DRIVER_MEMORY")
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", "5g")
    monkeypatch.setenv("CLUSTER_WORKERS", "1")
    settings = cl.Settings.from_env()
    assert not settings.local_mode and settings.master_url.startswith("spark://127.0.0.1:")
    assert (settings.shuffle_partitions, settings.driver_memory) == (4, "1g")
    assert cl.app_conf(settings)["spark.cores.max"] == "1"
    # Refused, naming the variable to fix.
    for variable, value, message in (
        ("CLUSTER_WORKERS", "-1", "CLUSTER_WORKERS=-1"),
        ("SPARK_MASTER", "spark://elsewhere:7077", "SPARK_MASTER='spark://elsewhere:7077'"),
        ("SPARK_SHUFFLE_PARTITIONS", "many", "SPARK_SHUFFLE_PARTITIONS='many'"),
        ("SPARK_SHUFFLE_PARTITIONS", "0", "SPARK_SHUFFLE_PARTITIONS='0': expected 1 or more"),
        ("SPARK_DRIVER_MEMORY", " ", "SPARK_DRIVER_MEMORY is empty"),
    ):
        with monkeypatch.context() as case:
            case.setenv("CLUSTER_WORKERS", "0")
            case.setenv(variable, value)
            with pytest.raises(cl.ClusterError, match=re.escape(message)):
                cl.Settings.from_env()


def test_down_stops_only_its_own_process_groups_with_their_children(tmp_path: Path) -> None:
    settings = replace(cl.Settings(state_dir=tmp_path / "ours"), stop_timeout=1.0)
    env = {**os.environ, **cl.process_env(settings)}  # the marker `down` looks for
    # A leader that ignores SIGTERM (so SIGKILL is needed) with a child in its group.
    script = "trap '' TERM; sleep 60 & sleep 60; wait"
    proc = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True)
    comp = cl.Component("fake", proc.pid, str(tmp_path / "log"), [], [])
    try:
        time.sleep(0.3)
        assert len(cl.group_members([proc.pid])) >= 2
        stranger = cl.Settings(state_dir=tmp_path / "someone-else")
        assert cl.owned_groups(stranger, [comp]) == []
        assert cl.stop_components(stranger, [comp]) == []  # not ours: untouched
        assert cl.group_members([proc.pid])
        assert cl.owned_groups(settings, [comp]) == [proc.pid]
        assert cl.stop_components(settings, [comp]) == []
        proc.wait(timeout=5)
        assert cl.group_members([proc.pid]) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()


# --------------------------------------------------------------------------------------------
# Helpers


def _free_settings(state_dir: Path) -> cl.Settings:
    used: set[int] = set()
    ports = {}
    for name in ("master", "master_ui", "worker_ui", "thrift", "connect", "app_ui"):
        port = free_port(used, span=2)
        used |= {port, port + 1}  # worker UIs use base and base + 1
        ports[name] = port
    return cl.Settings(
        state_dir=state_dir,
        master_port=ports["master"],
        master_ui_port=ports["master_ui"],
        worker_ui_port=ports["worker_ui"],
        thrift_port=ports["thrift"],
        connect_port=ports["connect"],
        app_ui_port=ports["app_ui"],
    )


def _env_for(settings: cl.Settings, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CLUSTER_STATE_DIR": str(settings.state_dir),
            "CLUSTER_MASTER_PORT": str(settings.master_port),
            "CLUSTER_MASTER_UI_PORT": str(settings.master_ui_port),
            "CLUSTER_WORKER_UI_PORT": str(settings.worker_ui_port),
            "SPARK_THRIFT_PORT": str(settings.thrift_port),
            "SPARK_CONNECT_PORT": str(settings.connect_port),
            "SPARK_CONNECT_URL": settings.connect_url,
            "CLUSTER_APP_UI_PORT": str(settings.app_ui_port),
            "SPARK_STATE_DIR": str(tmp / "spark"),
            # Not the repository's data/: a test that builds names its own files.
            "DATA_DIR": str(tmp / "data"),
            "DBT_TARGET_PATH": str(tmp / "target"),
            "DBT_LOG_PATH": str(tmp / "logs"),
        }
    )
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [IN_ENV, sys.executable, "-m", "spark_analytics.cluster", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _beeline_csv(env: dict[str, str], sql: str) -> list[list[str]]:
    done = _cli(env, "beeline", "-e", sql, "--outputformat=csv2", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln]
    return [ln.split(",") for ln in lines]


class Cluster:
    def __init__(self, settings: cl.Settings, env: dict[str, str], tmp: Path, seconds: float):
        self.settings, self.env, self.tmp, self.startup_seconds = settings, env, tmp, seconds

    def connect(self):  # noqa: ANN201 (pyspark connect session)
        from pyspark.sql import SparkSession

        # Spark Connect requires the cluster's token (spark_analytics.cluster.security)
        token = read_token(self.settings)
        return SparkSession.builder.remote(connect_url(self.settings, token)).create()

    def thrift(self, sql: str) -> list[tuple]:
        return cl.thrift_query(self.settings, sql)

    def pgids(self) -> list[int]:
        return [c.pid for c in cl.read_state(self.settings)]

    def up(self) -> None:
        """Starts the cluster unless it is running (state file with live processes)."""
        state = cl.read_state(self.settings)
        if state and all(cl.pid_alive(c.pid) for c in state):
            return
        started = time.monotonic()
        done = _cli(self.env, "up")
        self.startup_seconds = time.monotonic() - started
        print(f"\ncluster start-up: {self.startup_seconds:.1f}s\n{done.stdout}")
        assert done.returncode == 0, f"cluster up failed:\n{done.stdout}\n{done.stderr}"
        self.env["SPARK_CONNECT_TOKEN"] = read_token(self.settings)  # a new one per `up`


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the module, on free ports, stopped at the end whatever happened."""
    tmp = tmp_path_factory.mktemp("cluster")
    settings = _free_settings(tmp / "state")
    env = _env_for(settings, tmp)
    try:
        shared = Cluster(settings, env, tmp, 0.0)
        shared.up()
        yield shared
    finally:
        _cli(env, "down")
        # Later suites need classic local Spark.
        for variable in CONNECT_MODE_VARIABLES:
            os.environ.pop(variable, None)


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The shared cluster, running (started again if an earlier test stopped it)."""
    shared_cluster.up()
    return shared_cluster


# --------------------------------------------------------------------------------------------
# Cluster tests (one shared cluster, any order)


@pytest.mark.cluster
def test_status_reports_every_component_healthy(cluster: Cluster) -> None:
    done = _cli(cluster.env, "status", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("master", "worker-1", "worker-2", "thriftserver", "all on loopback"):
        assert name in done.stdout
    assert "cluster: healthy" in done.stdout


@pytest.mark.cluster
def test_nothing_listens_beyond_loopback(cluster: Cluster) -> None:
    pids = cl.group_members(cluster.pgids())
    listeners = cl.listeners_of(pids)
    ports = {item.port for item in listeners}
    # ss really saw our processes: every fixed port is among their listeners...
    assert {p.port for p in cluster.settings.fixed_ports()} <= ports
    # ...and nothing (fixed or random port: driver, block managers, executors) is public.
    assert [item for item in listeners if not item.loopback] == []


# The main classes of a running cluster's JVMs: master, workers, the Thrift/Connect driver
# (started by spark-submit) and its executors.
MASTER, WORKER = "org.apache.spark.deploy.master.Master", "org.apache.spark.deploy.worker.Worker"
DRIVER, EXECUTOR = "org.apache.spark.deploy.SparkSubmit", "org.apache.spark.executor.Executor"


def _jvm_main_class(pid: int) -> tuple[str, list[str]] | None:
    """(main class, arguments) of a cluster JVM, None for any other process."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:  # ended meanwhile
        return None
    if Path(args[0]).name != "java":
        return None
    classes = (MASTER, WORKER, DRIVER, "org.apache.spark.executor.CoarseGrainedExecutorBackend")
    main = next((arg for arg in args if arg in classes), " ".join(args)[:300])
    return (EXECUTOR if main == classes[-1] else main), args


@pytest.mark.cluster
def test_every_cluster_jvm_gets_the_jvm_options(cluster: Cluster) -> None:
    """SPARK_GC and SPARK_JIT (scripts/in_env.sh; `make test` sets quick) reach every JVM of the
    cluster."""
    resolved = subprocess.run(
        [IN_ENV, "sh", "-c", 'printf %s "$SPARK_JVM_OPTIONS"'],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    options = resolved.stdout.split()
    assert options  # the collector's flag at least
    expected = {MASTER: 1, WORKER: cluster.settings.workers, DRIVER: 1}
    deadline = time.monotonic() + 60  # executors start once the application has registered
    while True:
        found: dict[str, int] = {}
        for pid in cl.group_members(cluster.pgids()):
            jvm = _jvm_main_class(pid)
            if jvm is None:
                continue
            main, args = jvm
            missing = [option for option in options if option not in args]
            assert not missing, f"{main} (pid {pid}) runs without {missing}"
            found[main] = found.get(main, 0) + 1
        executors = found.pop(EXECUTOR, 0)
        if (found == expected and executors) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert found == expected
    assert executors >= 1
    (driver,) = [pid for pid in cl.group_members(cluster.pgids()) if _is_driver(pid)]
    assert_started_from_the_server_archive(driver)


def _is_driver(pid: int) -> bool:
    jvm = _jvm_main_class(pid)
    return jvm is not None and jvm[0] == DRIVER


@pytest.mark.cluster
def test_local_mode_serves_thrift_and_connect_from_one_jvm(tmp_path: Path) -> None:
    """CLUSTER_WORKERS=0: the application alone (no master, workers or executors), healthy,
    loopback only, one catalog for Thrift and Connect; `down` leaves nothing behind."""
    settings = replace(_free_settings(tmp_path / "state"), workers=0)
    env = {
        **_env_for(settings, tmp_path),
        "CLUSTER_WORKERS": "0",
        "SPARK_MASTER": "local[*]",
        "SPARK_DRIVER_MEMORY": "1g",
    }
    server = Cluster(settings, env, tmp_path, 0.0)
    pgids: list[int] = []
    try:
        server.up()
        pgids = server.pgids()
        # `status` goes by what `up` started, whatever this shell's CLUSTER_WORKERS says.
        status = _cli({**env, "CLUSTER_WORKERS": "2"}, "status", timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        assert [c.name for c in cl.read_state(settings)] == ["thriftserver"]
        assert "workers registered" not in status.stdout
        assert "cluster: healthy" in status.stdout and "all on loopback" in status.stdout
        jvms = [jvm for pid in cl.group_members(pgids) if (jvm := _jvm_main_class(pid))]
        assert [main for main, _ in jvms] == [DRIVER]
        args = jvms[0][1]
        assert args[args.index("--master") + 1] == "local[*]" and "-Xmx1g" in args
        (driver,) = [pid for pid in cl.group_members(pgids) if _is_driver(pid)]
        assert_started_from_the_server_archive(driver)
        # Its log4j file is still the state folder's (the class path's conf folder is empty).
        log4j = settings.state_dir / "conf" / "log4j2.properties"
        assert f"-Dlog4j2.configurationFile={log4j}" in args
        server.thrift("create table default.from_thrift using parquet as select 42 as answer")
        spark = server.connect()
        try:
            assert [tuple(r) for r in spark.table("default.from_thrift").collect()] == [(42,)]
        finally:
            spark.stop()
    finally:
        down = _cli(env, "down")
        for variable in CONNECT_MODE_VARIABLES:
            os.environ.pop(variable, None)
    assert down.returncode == 0, down.stdout + down.stderr
    assert pgids and cl.group_members(pgids) == []


@pytest.mark.cluster
def test_thrift_and_connect_share_one_catalog(cluster: Cluster) -> None:
    rows = [(1, "a", 10.5), (2, "b", None), (3, "c", -1.25)]
    values = ", ".join(f"({i}, '{s}', {'null' if d is None else d})" for i, s, d in rows)
    cluster.thrift("create database if not exists shared")
    cluster.thrift("drop table if exists shared.from_thrift")
    cluster.thrift(
        "create table shared.from_thrift (id int, name string, amount double) using parquet"
    )
    cluster.thrift(f"insert into shared.from_thrift values {values}")

    spark = cluster.connect()
    try:
        got = sorted(tuple(r) for r in spark.table("shared.from_thrift").collect())
        assert got == rows
        # The other way round: a table written by a Python DataFrame (with a Python UDF, which
        # runs on the executors) is readable over Thrift.
        from pyspark.sql import functions as F

        shout = F.udf(lambda name: name.upper() + "!", "string")

        (
            spark.createDataFrame(rows, "id int, name string, amount double")
            .withColumn("loud", shout("name"))
            .write.mode("overwrite")
            .saveAsTable("shared.from_connect")
        )
    finally:
        spark.stop()
    got = sorted(cluster.thrift("select id, name, amount, loud from shared.from_connect"))
    assert got == [(i, s, d, s.upper() + "!") for i, s, d in rows]
    # One warehouse, under the state dir, written by the executors on the workers.
    assert any((cluster.settings.warehouse_dir / "shared.db" / "from_connect").iterdir())


@pytest.mark.cluster
def test_beeline_reads_a_table_created_via_thrift(cluster: Cluster) -> None:
    cluster.thrift("create database if not exists shared")
    cluster.thrift("drop table if exists shared.for_beeline")
    cluster.thrift(
        "create table shared.for_beeline using parquet as "
        "select id, concat('n', id) as name from range(5)"
    )
    rows = _beeline_csv(cluster.env, "select id, name from shared.for_beeline order by id")
    assert rows == [["id", "name"]] + [[str(i), f"n{i}"] for i in range(5)]


@pytest.mark.cluster
def test_second_cluster_on_the_same_ports_fails_clearly(cluster: Cluster) -> None:
    env = dict(cluster.env, CLUSTER_STATE_DIR=str(cluster.tmp / "second"))
    done = _cli(env, "up", timeout=60)
    assert done.returncode == 2
    for var in ("CLUSTER_MASTER_PORT", "SPARK_THRIFT_PORT", "SPARK_CONNECT_PORT"):
        assert f"set {var} to a free port" in done.stderr
    assert not (cluster.tmp / "second" / "cluster.json").exists()


def _dbt(env: dict[str, str], *args: str) -> None:
    cmd = [IN_ENV, "dbt", *args]
    if DBT_EXCLUDE:
        cmd += ["--exclude", *DBT_EXCLUDE.split()]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, failure_report(cmd, done)


def _dbt_stdout(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [IN_ENV, "dbt", *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, failure_report(["dbt", *args], done)
    return done.stdout


def _table_models(target_path: Path) -> list[tuple[str, str, str]]:
    """(folder, schema, table) of every model and snapshot the last build materialized as a
    table ("snapshots" is the folder of the snapshots)."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    built = {r["unique_id"] for r in results if r["status"] == "success"}
    return sorted(
        ("snapshots" if node["resource_type"] == "snapshot" else node["fqn"][1],)
        + (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["unique_id"] in built
        and node["config"].get("enabled", True)
        and (
            node["resource_type"] == "snapshot"
            or (
                node["resource_type"] == "model"
                and node["config"]["materialized"] in ("table", "incremental")
                and len(node["fqn"]) > 2
            )
        )
    )


@pytest.mark.cluster
def test_dbt_build_on_cluster_matches_embedded(cluster: Cluster, clean_project: DbtProject) -> None:
    from pyspark.testing import assertDataFrameEqual

    # The cluster builds the files of the session's shared embedded build (conftest.py
    # clean_project), which is the embedded side of the comparison.
    cluster_env = dict(
        cluster.env,
        DATA_DIR=str(clean_project.data_dir),
        DBT_TARGET_PATH=str(cluster.tmp / "target-cluster"),
    )
    server_log = cluster.settings.log_dir / "thriftserver.log"
    log_offset = server_log.stat().st_size  # what this test's dbt commands make it log
    _dbt(cluster_env, "build", "--target", "cluster")

    tables = _table_models(cluster.tmp / "target-cluster")
    # The marts are built under enforced contracts (dbt_project.yml), on both targets.
    assert {"marts", "snapshots"} <= {folder for folder, _, _ in tables}, tables
    warehouse = clean_project.state_dir / "warehouse"
    spark = cluster.connect()
    compared: list[str] = []
    try:
        for folder, schema, table in tables:
            run_columns = RUN_SPECIFIC_COLUMNS + (
                SNAPSHOT_RUN_COLUMNS if folder == "snapshots" else ()
            )
            on_cluster = spark.table(f"{schema}.{table}").drop(*run_columns)
            embedded_dir = published_path(warehouse, schema, table)
            if not any(embedded_dir.rglob("*.parquet")):
                # An empty partitioned table (the event models before any ingest) has no files.
                assert on_cluster.count() == 0, f"{schema}.{table} is empty only when embedded"
                compared.append(f"{schema}.{table} (empty)")
                continue
            embedded = spark.read.parquet(str(embedded_dir)).drop(*run_columns)
            # Same column names and types (nullability aside) and the same multiset of rows;
            # MLlib's floating-point results may differ in the last bits between JVMs.
            assertDataFrameEqual(on_cluster, embedded, checkRowOrder=False, rtol=1e-9)
            compared.append(f"{schema}.{table}")
        mart = next((s, t) for folder, s, t in tables if folder == "marts")
        expected = spark.table(f"{mart[0]}.{mart[1]}").count()
    finally:
        spark.stop()
    print(f"identical on both targets: {compared}")
    # A person with beeline sees the same mart.
    rows = _beeline_csv(cluster.env, f"select count(*) as n from {mart[0]}.{mart[1]}")
    assert rows == [["n"], [str(expected)]]
    # persist_docs: `describe` through the Thrift Server shows the descriptions as comments.
    manifest = json.loads((cluster.tmp / "target-cluster" / "manifest.json").read_text())
    node = next(
        n for n in manifest["nodes"].values() if (n["schema"], n["alias"]) == (mart[0], mart[1])
    )
    described = {row[0]: row[2] for row in cluster.thrift(f"describe {mart[0]}.{mart[1]}")}
    documented = {name: c["description"] for name, c in node["columns"].items()}
    partition_by = set(node["config"].get("partition_by") or [])
    assert {name: described[name] for name in documented.keys() - partition_by} == {
        name: text for name, text in documented.items() if name not in partition_by
    }

    # Everyday commands on the cluster target, against that build as the "production" state:
    # `dbt show` reads through the Thrift Server, `dbt clone` copies a mart into a dev schema.
    cluster_target = cluster.tmp / "target-cluster"
    state = cluster.tmp / "state-cluster"
    state.mkdir()
    (state / "manifest.json").write_bytes((cluster_target / "manifest.json").read_bytes())
    dev_env = dict(cluster_env, DBT_SCHEMA="dev", DBT_TARGET_PATH=str(cluster.tmp / "target-dev"))
    shown = _dbt_stdout(
        cluster_env,
        "show",
        "--target",
        "cluster",
        "-s",
        "rpt_sales_by_segment",
        "--output",
        "json",
        "--limit",
        "10",
    )
    rows = json.loads(shown[shown.index("{") : shown.rindex("}") + 1])["show"]
    segments = cluster.thrift(
        f"select purchase_segment, transaction_count from {mart[0]}.rpt_sales_by_segment"
    )
    assert {(r["purchase_segment"], r["transaction_count"]) for r in rows} == set(segments)
    _dbt(
        dev_env,
        "clone",
        "--target",
        "cluster",
        "--state",
        str(state),
        "-s",
        "dim_customers",
        "--vars",
        '{"clone_strategy": "copy"}',
    )
    prod, dev = f"{mart[0]}.dim_customers", "dev_marts.dim_customers"
    cloned = cluster.thrift(
        f"""select count(*) from (
              (select * from {prod} except all select * from {dev})
              union all
              (select * from {dev} except all select * from {prod}))"""
    )
    assert cloned == [(0,)]
    view_text = dict(
        (r[0], r[1]) for r in cluster.thrift("describe table extended dev_marts.dim_customers")
    )
    assert view_text["View Text"].startswith("select * from dev_marts_versions.dim_customers__v")
    # Every session of those dbt runs opened and closed cleanly on the server. Without the Hive
    # shim (cluster.hive_shim) some closes failed on a class Spark 4 does not ship; with one
    # resources folder for all sessions, a close deleted it under a concurrent open.
    with server_log.open("rb") as log:
        log.seek(log_offset)
        logged = log.read().decode("utf-8", "replace")
    # Nor does Hive log an error per session close for a missing local scratch folder.
    for failure in ("Error closing session", "Error opening session", "Unable to access pipeout"):
        at = logged.find(failure)
        assert at < 0, logged[at : at + 3000]
    # Hive expanded the session id: no resources folder shared by all sessions.
    resources = cl.hive_dirs(cluster.settings)["hive.downloaded.resources.dir"]
    assert not resources.exists(), f"{resources} (a literal, shared folder)"


# A statement that runs past the server's long polling (5 s, Hive's default), and by how much.
LONG_STATEMENT_MS = 6500


@pytest.mark.cluster
def test_dbt_sees_a_long_statement_end_when_it_ends(cluster: Cluster) -> None:
    """The cluster target asks again at once (the spark_oss adapter's poll_interval, 0) and the
    server holds each status request until the statement ends or 5 s pass: a 6.5 s statement is
    reported done after about 6.5 s in two requests, not after 10 s (dbt-spark's 5 s sleep)."""
    log_dir = cluster.tmp / "logs-poll"
    env = dict(cluster.env, DBT_LOG_PATH=str(log_dir))
    slept = f"java_method('java.lang.Thread', 'sleep', {LONG_STATEMENT_MS}L)"
    _dbt_stdout(
        env,
        *("show", "--target", "cluster", "--inline", f"select {slept} as slept"),
        *("--log-level-file", "debug", "--log-format-file", "text"),
    )
    log = (log_dir / "dbt.log").read_text()
    after = log[log.rindex(slept) :]  # the statement as run (the arguments are logged first)
    status = re.search(r"SQL status: OK in ([0-9.]+) seconds", after)
    assert status, after[-3000:]
    took = float(status.group(1))
    assert LONG_STATEMENT_MS / 1000 <= took < 9.5, took  # 10 s or more with a 5 s sleep
    # One request held 5 s by the server (running), then one that finds it done: no spinning.
    polls = re.findall(r"Poll status: (\d)", after[: status.start()])
    assert polls == ["1", "2"], polls


@pytest.mark.cluster
def test_down_leaves_no_process_and_frees_every_port(cluster: Cluster) -> None:
    pgids = cluster.pgids()
    assert len(pgids) == 4 and cl.group_members(pgids)
    done = _cli(cluster.env, "down", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cl.group_members(pgids) == []
    assert cl.busy_ports(cluster.settings.fixed_ports()) == []
    assert not cluster.settings.state_file.exists()
    assert _cli(cluster.env, "status").returncode == 1
