"""A Spark Thrift Server with Spark Connect in the same application, on loopback, for tests.

Lighter than the standalone cluster (spark_analytics.cluster): one local[2] driver, started with
pip pyspark's spark-submit, its metastore and warehouse under ``state``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from spark_analytics.cluster.archive import Launch, configured_archive, launch
from spark_analytics.cluster.commands import SESSION_RESOURCES, jvm_options
from spark_analytics.cluster.config import CONNECT_PLUGIN
from spark_analytics.settings import (
    ENGINE_CONF,
    LOOPBACK,
    LOOPBACK_DRIVER_CONF,
    metastore_conf,
    sql_conf,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def thrift_connect_app_conf(
    state: Path, connect_port: int, server: Launch | None = None
) -> dict[str, str]:
    """The test server's Spark conf: the project's SQL, shuffle, loopback and metastore settings
    (spark_analytics.settings), as the cluster's application gets them, then this server's own
    (``server``: its class path and archive, spark_analytics.cluster.archive)."""
    server = server or launch(state)
    return {
        **sql_conf(),
        **ENGINE_CONF,
        **LOOPBACK_DRIVER_CONF,
        **metastore_conf(str(state)),
        "spark.plugins": CONNECT_PLUGIN,
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(connect_port),
        # SPARK_JVM_OPTIONS (scripts/in_env.sh) and the class archive, as the cluster's driver
        # gets them.
        "spark.driver.extraJavaOptions": " ".join(
            filter(None, [f"-Dderby.system.home={state}", jvm_options(), server.java_options])
        ),
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.extraClassPath": str(server.shim_jar),
    }


def start_thrift_connect_app(state: Path, thrift_port: int, connect_port: int) -> Any:
    import pyspark

    spark_home = Path(pyspark.__file__).resolve().parent
    java_home = subprocess.run(
        [str(REPO_ROOT / "scripts" / "java_home.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "JAVA_HOME": java_home,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    server = launch(state)  # once: the class archive may appear meanwhile
    env.update(server.env)
    confs = thrift_connect_app_conf(state, connect_port, server)
    cmd = [str(spark_home / "bin" / "spark-submit"), "--master", "local[2]"]
    cmd += ["--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"]
    for key, value in confs.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["spark-internal", "--hiveconf", f"hive.server2.thrift.port={thrift_port}"]
    cmd += ["--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1"]
    resources = state / "hive" / "resources" / SESSION_RESOURCES  # not /tmp: see SESSION_RESOURCES
    cmd += ["--hiveconf", f"hive.downloaded.resources.dir={resources}"]
    state.mkdir(parents=True, exist_ok=True)
    log = (state / "server.log").open("w")
    return subprocess.Popen(
        cmd, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_serving(server: Any, state: Path, *ports: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not all(port_open(port) for port in ports):
        assert server.poll() is None, (state / "server.log").read_text()[-3000:]
        assert time.monotonic() < deadline, f"Thrift/Connect server did not start in {timeout} s"
        time.sleep(2)


def assert_started_from_the_server_archive(pid: int) -> None:
    """The server JVM ``pid`` mapped the servers' class archive (`make test` builds it first):
    its class path and options are the ones it was recorded with. Nothing to check when
    SPARK_SERVER_ARCHIVE is empty (the archive turned off)."""
    archive = configured_archive()
    if archive is None:
        return
    assert archive.exists(), f"no server archive at {archive}: `make server-archive` builds it"
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert str(archive.resolve()) in maps, f"pid {pid} did not map {archive}"
