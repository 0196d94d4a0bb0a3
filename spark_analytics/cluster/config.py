"""Cluster settings: ports, sizes and the state folder, from environment variables.

``CLUSTER_WORKERS=0`` is local mode: no master and no workers, the application runs its tasks in
its own JVM with the embedded session's master, memory and shuffle ceiling. It is the embedded
engine kept running between dbt commands (a warm JVM), behind the same Thrift and Connect ports.

Also the constants every other module of the package shares (loopback address, Spark home,
class names) and `ClusterError`, the error the CLI prints without a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from spark_analytics.settings import LOOPBACK, env_setting

ROOT = Path(__file__).resolve().parents[2]
SPARK_HOME = Path(pyspark.__file__).resolve().parent
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
BEELINE_CLASS = "org.apache.hive.beeline.BeeLine"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"})


class ClusterError(RuntimeError):
    """A problem the user can act on; the CLI prints it without a traceback."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _as_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ClusterError(f"{name}={raw!r} is not an integer") from exc


def _env_int(name: str, default: int) -> int:
    return _as_int(name, _env(name, str(default)))


def _local_mode_defaults() -> tuple[str, str, int]:
    """Master, driver memory and shuffle ceiling of local mode: the embedded session's."""
    master = env_setting("SPARK_MASTER").strip()
    if not master.startswith("local"):
        raise ClusterError(
            f"SPARK_MASTER={master!r}: local mode (CLUSTER_WORKERS=0) runs the application "
            "alone, so its master is local[...]"
        )
    # Each read only where its CLUSTER_ variable does not replace it.
    memory = _env("CLUSTER_DRIVER_MEMORY", "") or env_setting("SPARK_DRIVER_MEMORY").strip()
    if not memory:
        raise ClusterError("SPARK_DRIVER_MEMORY is empty: unset it or give a size such as 4g")
    partitions = 1
    if not _env("CLUSTER_SHUFFLE_PARTITIONS", ""):
        raw = env_setting("SPARK_SHUFFLE_PARTITIONS")
        partitions = _as_int("SPARK_SHUFFLE_PARTITIONS", raw)
        if partitions < 1:
            raise ClusterError(f"SPARK_SHUFFLE_PARTITIONS={raw!r}: expected 1 or more")
    return master, memory, partitions


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
    local_master: str = "local[*]"  # local mode's (workers 0), else unused
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
        workers = _env_int("CLUSTER_WORKERS", 2)
        if workers < 0:
            raise ClusterError(f"CLUSTER_WORKERS={workers}: expected 0 (local mode) or more")
        # Local mode is the embedded engine kept running: the embedded session's master, memory
        # and shuffle ceiling (spark_analytics.settings) unless the CLUSTER_ variables say
        # otherwise.
        master, driver_memory, partitions = (
            _local_mode_defaults()
            if workers == 0
            else (cls.local_master, cls.driver_memory, cls.shuffle_partitions)
        )
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
            workers=workers,
            local_master=master,
            worker_cores=_env_int("CLUSTER_WORKER_CORES", 1),
            worker_memory=_env("CLUSTER_WORKER_MEMORY", "2g"),
            executor_cores=_env_int("CLUSTER_EXECUTOR_CORES", 1),
            executor_memory=_env("CLUSTER_EXECUTOR_MEMORY", "1g"),
            driver_memory=_env("CLUSTER_DRIVER_MEMORY", driver_memory),
            shuffle_partitions=_env_int("CLUSTER_SHUFFLE_PARTITIONS", partitions),
            start_timeout=float(_env_int("CLUSTER_START_TIMEOUT", 300)),
            stop_timeout=float(_env_int("CLUSTER_STOP_TIMEOUT", 30)),
            extra_conf=extra,  # type: ignore[arg-type]
        )

    @property
    def local_mode(self) -> bool:
        """No master and no workers: the application runs its tasks in its own JVM."""
        return self.workers == 0

    @property
    def master_url(self) -> str:
        if self.local_mode:
            return self.local_master
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
        ports = (
            []
            if self.local_mode
            else [
                Port("master", self.master_port, "CLUSTER_MASTER_PORT"),
                Port("master web UI", self.master_ui_port, "CLUSTER_MASTER_UI_PORT"),
            ]
        )
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
