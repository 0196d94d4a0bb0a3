"""The server JVM's class archive: what ``spark_analytics.jvm_archive`` is to the drivers, for
the Thrift + Connect application (the cluster's, the local-mode server's, the tests' servers).

Before it answers its first query, a server JVM loads Spark SQL, Hive's metastore client and
Thrift service and Spark Connect's gRPC: about 7 s of wall time and 9 s of CPU on 2 cores. An
archive (an ahead-of-time cache on Java 25+, a class-data sharing archive before) maps those
classes instead. ``make server-archive`` (``python -m spark_analytics.cluster archive``) records
it once: a local-mode server started the way ``up`` starts one runs a short workload shaped like
dbt's statements over Thrift and a query over Spark Connect, and the JVM writes the archive as it
exits. Measured in BENCHMARKS.md (stop 58).

A JVM maps an archive only with the class path it was recorded with, and that class path must
not name a folder with files in it. So a server started with the archive gets a class path that
does not depend on its state folder: the Hive shim jar and an empty conf folder, both kept next
to the archive (``<archive>.classpath/``), and log4j's file named by property. Without the
archive (not built, or ``SPARK_SERVER_ARCHIVE`` empty), servers start as before. A stale one
(another Java, pyspark or shim) is skipped by the JVM, quietly, and rebuilt when its stamp
changes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from spark_analytics import jvm_archive
from spark_analytics.cluster.config import ClusterError
from spark_analytics.cluster.hive_shim import (
    SHIM_JAR_NAME,
    shim_jar_bytes,
    shim_jar_path,
    write_shim_jar,
)

SERVER_ARCHIVE_ENV = "SPARK_SERVER_ARCHIVE"
# Set by the recording run only: where the JVM writes the archive it records.
_RECORDING_ENV = "SPARK_SERVER_ARCHIVE_RECORDING"
# The recording's second step (`python -m spark_analytics.cluster archive --record-workload DIR`).
RECORD_WORKLOAD_FLAG = "--record-workload"


@dataclass(frozen=True)
class Launch:
    """How a server JVM is started: its shim jar (first on its class path), its SPARK_CONF_DIR
    (None: not changed from what its caller gives it) and the archive's JVM options (empty
    without one)."""

    shim_jar: Path
    conf_dir: Path | None
    java_options: str

    @property
    def env(self) -> dict[str, str]:
        """The server process's environment on top of its caller's: the archive's conf folder."""
        return {"SPARK_CONF_DIR": str(self.conf_dir)} if self.conf_dir else {}


def configured_archive() -> Path | None:
    """The archive SPARK_SERVER_ARCHIVE names (scripts/in_env.sh sets it), or None."""
    named = os.environ.get(SERVER_ARCHIVE_ENV, "").strip()
    return Path(named) if named else None


def class_path_dir(archive: Path) -> Path:
    """The folder of the archive's class path: ``jars/`` (the shim) and an empty ``conf/``."""
    return archive.with_name(archive.name + ".classpath")


def launch(state_dir: Path, log4j_file: Path | None = None) -> Launch:
    """The server of ``state_dir``: with the archive when one is built (or being recorded), else
    with the shim in its state folder. ``log4j_file``: the server's log4j configuration, named
    by property when the conf folder is the archive's empty one."""
    archive = configured_archive()
    recording = os.environ.get(_RECORDING_ENV, "").strip()
    if archive is None or not (recording or archive.exists()):
        return Launch(write_shim_jar(shim_jar_path(state_dir)), None, "")
    if archive.suffix not in jvm_archive.USE_OPTIONS:
        raise ClusterError(
            f"{SERVER_ARCHIVE_ENV}={archive}: expected a .aot (Java 25+) or .jsa archive, or empty"
        )
    folder = class_path_dir(archive)
    conf_dir = folder / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    if recording:
        options = jvm_archive.RECORD_OPTIONS[archive.suffix].format(path=f'"{recording}"')
    else:
        options = jvm_archive.USE_OPTIONS[archive.suffix].format(path=f'"{archive}"')
    if log4j_file is not None:
        options += f' -Dlog4j2.configurationFile="{log4j_file}"'
    # Rewritten only when its bytes change: the archive records the jar's size and time.
    return Launch(write_shim_jar(folder / "jars" / SHIM_JAR_NAME), conf_dir, options)


def stamp(archive: Path, java_home: str) -> str:
    """What the archive depends on: the JVM build, pyspark's jars and the shim jar as the JVM
    checks them (name, size, time), and the workload."""
    import pyspark

    shim = write_shim_jar(class_path_dir(archive) / "jars" / SHIM_JAR_NAME)
    shim_signature = f"{shim_jar_bytes().hex()} {shim.stat().st_mtime_ns}"
    workload = repr(_THRIFT_WORKLOAD) + inspect.getsource(record_workload)
    java = jvm_archive.java_build(java_home)
    parts = [java, pyspark.__version__, *jvm_archive.spark_jars(), shim_signature, workload]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# Shaped like dbt's statements on the `cluster` target: the source registration (external
# tables over CSV and JSON, views flipped by `alter view`, properties), a versioned table's
# create and publish, the metadata queries, and joins, windows and aggregates over Parquet.
_THRIFT_WORKLOAD = (
    "create database if not exists archive_raw",
    "create database if not exists archive_marts",
    "show schemas like 'archive_raw'",
    "create table archive_raw.events__files (id string, name string, amount string, at string,"
    " _corrupt_record string) using csv options (path '{state}/events.csv', header 'true',"
    " mode 'PERMISSIVE', columnNameOfCorruptRecord '_corrupt_record')",
    "create table archive_raw.tags__files using json options (path '{state}/tags.json')",
    "create view archive_raw.events tblproperties ('archive.definition' = '1') as select"
    " cast(id as bigint) as id, name, try_cast(amount as decimal(18, 2)) as amount,"
    " to_timestamp(at) as at, _corrupt_record, _metadata.file_modification_time as loaded_at"
    " from archive_raw.events__files",
    "alter view archive_raw.events set tblproperties ('archive.definition' = '2')",
    "show tblproperties archive_raw.events",
    "select 1 from archive_raw.events limit 1",
    "show tables in archive_raw",
    "show views in archive_raw",
    "show table extended in archive_raw like '*'",
    "create table archive_marts.facts__v1 using parquet partitioned by (d) as select id, name,"
    " amount, at, to_date(at) as d, row_number() over (partition by name order by at) as n"
    " from archive_raw.events where _corrupt_record is null",
    "describe table extended archive_marts.facts__v1",
    "create view archive_marts.facts as select * from archive_marts.facts__v1",
    "alter view archive_marts.facts as select * from archive_marts.facts__v1",
    "select f.name, count(*), sum(f.amount), count(distinct f.id) from archive_marts.facts f"
    " left join archive_raw.tags__files t on f.id = t.id group by f.name",
    "select count(*) from (select id from archive_marts.facts group by id having count(*) > 1)",
    "select * from archive_marts.facts where name is null",
    "drop table if exists archive_marts.facts__v0",
    "drop database archive_marts cascade",
    "drop database archive_raw cascade",
)


def record_workload(state: Path) -> None:
    """Run in the recording server's environment: the Thrift statements, then Spark Connect."""
    from spark_analytics.cluster.config import Settings
    from spark_analytics.cluster.health import connect_query, thrift_query

    (state / "events.csv").write_text(
        "id,name,amount,at\n1,a,1.50,2026-01-01 10:00:00\n2,b,x,2026-01-02 11:00:00\n"
    )
    (state / "tags.json").write_text('{"id": 1, "tags": ["x"]}\n')
    settings = Settings.from_env()
    for statement in _THRIFT_WORKLOAD:
        thrift_query(settings, statement.format(state=state))
    connect_query(settings, "select id % 3 as k, count(*) from range(100) group by id % 3")


def _record(partial: Path, archive: Path) -> None:
    """Start a local-mode server that records ``partial``, run the workload, stop it. The server
    runs in a folder beside the archive, so an interrupted recording's server is stopped by the
    next one."""
    from spark_analytics.cluster.processes import free_port

    state = archive.with_name(archive.name + ".recording")
    thrift = free_port()
    connect = free_port({thrift})
    ui = free_port({thrift, connect})
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLUSTER_", "SPARK_THRIFT_", "SPARK_CONNECT_"))
    }
    env = {
        **kept,
        "CLUSTER_STATE_DIR": str(state),
        "CLUSTER_WORKERS": "0",
        "SPARK_MASTER": "local[*]",  # local mode whatever the caller's embedded session says
        "CLUSTER_DRIVER_MEMORY": "1g",
        "SPARK_THRIFT_PORT": str(thrift),
        "SPARK_THRIFT_AUTH": "NONE",
        "SPARK_CONNECT_PORT": str(connect),
        "CLUSTER_APP_UI_PORT": str(ui),
        _RECORDING_ENV: str(partial),
    }
    cluster = [sys.executable, "-m", "spark_analytics.cluster"]
    down = cluster + ["down"]
    subprocess.run(down, env=env, capture_output=True, check=False)  # an interrupted one's
    shutil.rmtree(state, ignore_errors=True)
    steps = [cluster + ["up"], cluster + ["archive", RECORD_WORKLOAD_FLAG, str(state)]]
    try:
        for step in steps:
            done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                output = (done.stdout + done.stderr)[-4000:]
                raise SystemExit(f"server archive: {' '.join(step[3:5])} failed:\n{output}")
        _stop_and_wait(state)
        log = (state / "logs" / "thriftserver.log").read_text(errors="replace")
    finally:
        stopped = subprocess.run(down, env=env, capture_output=True, text=True, check=False)
    if stopped.returncode != 0:
        raise SystemExit(f"server archive: the recording server did not stop:\n{stopped.stderr}")
    shutil.rmtree(state, ignore_errors=True)
    # The JVM reports a failed assembly in its log and may still leave a file behind.
    if not partial.exists() or (
        partial.suffix == ".aot" and "AOTCache creation is complete" not in log
    ):
        raise SystemExit(f"the server JVM wrote no archive to {partial}:\n{log[-3000:]}")


def _stop_and_wait(state: Path, timeout: float = 600.0) -> None:
    """SIGTERM the server's JVM alone and wait: it writes the archive as it exits, which takes
    longer than `down` gives a process before SIGKILL."""
    from spark_analytics.cluster.config import Settings
    from spark_analytics.cluster.processes import pid_alive
    from spark_analytics.cluster.state import read_state

    (app,) = read_state(Settings(state_dir=state))
    os.kill(app.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(app.pid):
        if time.monotonic() > deadline:
            raise SystemExit(f"the recording server (pid {app.pid}) did not exit in {timeout}s")
        time.sleep(0.5)


def build() -> str:
    """Build the configured archive unless its stamp is current; what happened, in a line."""
    archive = configured_archive()
    if archive is None:
        return f"server archive: {SERVER_ARCHIVE_ENV} is empty, nothing to build"
    from spark_analytics.cluster.commands import java_home  # it imports this module

    wanted = stamp(archive, java_home())
    if jvm_archive.build(archive, wanted, lambda partial: _record(partial, archive)):
        return f"server archive: built {archive} ({archive.stat().st_size // 2**20} MiB)"
    return f"server archive: {archive} is current"
