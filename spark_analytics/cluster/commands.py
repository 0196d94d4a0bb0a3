"""Command lines and Spark/Hive confs of the cluster processes (functions of `Settings`; the
application's conf also writes its shim jar where `archive.launch` puts it)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from spark_analytics.cluster.archive import Launch
from spark_analytics.cluster.archive import launch as archive_launch
from spark_analytics.cluster.config import (
    BEELINE_CLASS,
    CONNECT_PLUGIN,
    LOOPBACK,
    ROOT,
    SPARK_HOME,
    THRIFT_CLASS,
    ClusterError,
    Settings,
)
from spark_analytics.settings import (
    ENGINE_CONF,
    LOOPBACK_DRIVER_CONF,
    metastore_conf,
    sql_conf,
)


def java_home() -> str:
    """JAVA_HOME if set, else what scripts/java_home.sh finds (setup's Java 25, else the system)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    out = subprocess.run(
        [str(ROOT / "scripts" / "java_home.sh")], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise ClusterError(f"no Java 17+ found: {out.stderr.strip()} (run scripts/setup.sh)")
    return out.stdout.strip()


def jvm_options() -> str:
    """The JVM flags scripts/in_env.sh resolved from SPARK_GC and SPARK_JIT (empty outside it:
    the JVM's defaults), for every JVM of the cluster: daemons, the Thrift/Connect driver,
    executors."""
    return os.environ.get("SPARK_JVM_OPTIONS", "").strip()


def _joined(*options: str) -> str:
    return " ".join(option for option in options if option)


def process_env(settings: Settings) -> dict[str, str]:
    """Environment of every cluster process: loopback only, state confined to the state dir."""
    env = dict(os.environ)
    env.update(
        {
            # Spark's daemon options: the master's and workers' JVMs, and the Thrift/Connect
            # driver's (Spark's launcher counts the Thrift server as a daemon). A user's own
            # options come first.
            "SPARK_DAEMON_JAVA_OPTS": _joined(
                os.environ.get("SPARK_DAEMON_JAVA_OPTS", ""), jvm_options()
            ),
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
            # Also which cluster a process belongs to: `down` checks it before signalling a pid.
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


def app_conf(settings: Settings, launch: Launch | None = None) -> dict[str, str]:
    """Spark conf of the Thrift + Connect application (one driver, executors on the workers;
    in local mode, no executors: the driver runs the tasks).

    SQL semantics, loopback driver and metastore layout come from ``spark_analytics.settings``,
    like the embedded ``local`` target's.
    """
    state = settings.state_dir
    executors = (
        {}
        if settings.local_mode
        else {
            "spark.cores.max": str(settings.workers * settings.worker_cores),
            "spark.executor.cores": str(settings.executor_cores),
            "spark.executor.memory": settings.executor_memory,
            "spark.executorEnv.SPARK_LOCAL_IP": LOOPBACK,
        }
    )
    conf = {
        "spark.app.name": "spark-analytics-thrift-connect",
        "spark.master": settings.master_url,
        "spark.submit.deployMode": "client",
        **executors,
        **LOOPBACK_DRIVER_CONF,
        "spark.ui.port": str(settings.app_ui_port),
        "spark.port.maxRetries": "0",  # fail instead of silently moving to the next port
        # One catalog and warehouse for Thrift and Connect sessions alike.
        "spark.sql.catalogImplementation": "hive",
        **metastore_conf(str(state)),
        "spark.plugins": CONNECT_PLUGIN,
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(settings.connect_port),
        # Same semantics as the embedded `local` target.
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        **sql_conf(),
        **ENGINE_CONF,
        "spark.pyspark.python": sys.executable,
        "spark.local.dir": str(state / "local"),
    }
    if jvm_options() and executors:  # a CLUSTER_EXTRA_CONF value of the same key replaces it
        conf["spark.executor.defaultJavaOptions"] = jvm_options()
    conf.update(dict(settings.extra_conf))
    # First on the driver's class path, before any user entries (see hive_shim).
    user_class_path = conf.get("spark.driver.extraClassPath")
    conf["spark.driver.extraClassPath"] = os.pathsep.join(
        filter(None, [str((launch or server_launch(settings)).shim_jar), user_class_path])
    )
    return conf


def server_launch(settings: Settings) -> Launch:
    """The application's shim jar, conf folder and class archive (spark_analytics.cluster.archive);
    its log4j file is the one `up` writes."""
    return archive_launch(settings.state_dir, settings.state_dir / "conf" / "log4j2.properties")


# One resources folder per session, as in Hive's default (Hive expands ${hive.session.id}):
# a session deletes its folder on close, so a shared one made concurrent opens fail.
SESSION_RESOURCES = "${hive.session.id}_resources"


def hive_dirs(settings: Settings) -> dict[str, Path]:
    """Hive's working folders under the state dir, by setting."""
    hive = settings.state_dir / "hive"
    return {
        "hive.exec.scratchdir": hive / "scratch",
        # Created by `up`: Hive logs an ERROR at every session close when it is missing.
        "hive.exec.local.scratchdir": hive / "local",
        "hive.downloaded.resources.dir": hive / "resources" / SESSION_RESOURCES,
        "hive.server2.logging.operation.log.location": hive / "operation_logs",
        "hive.querylog.location": hive / "querylog",
    }


def hive_conf(settings: Settings) -> dict[str, str]:
    return {
        "hive.server2.thrift.port": str(settings.thrift_port),
        "hive.server2.thrift.bind.host": LOOPBACK,
        "hive.server2.transport.mode": "binary",
        "hive.server2.authentication": "NONE",
        # Hive's default, stated: a status request waits up to 5 s for its statement to end, so
        # dbt (the spark_oss adapter's poll_interval 0) asks again at once without spinning.
        "hive.server2.long.polling.timeout": "5000ms",
        **{key: str(path) for key, path in hive_dirs(settings).items()},
    }


def app_command(settings: Settings, launch: Launch | None = None) -> list[str]:
    """``launch``: the application's class path and archive (computed once by `up`: the archive
    may appear between two calls)."""
    launch = launch or server_launch(settings)
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
        f"-Dderby.system.home={settings.state_dir} -Djava.net.preferIPv4Stack=true "
        + launch.java_options,
    ]
    for key, value in app_conf(settings, launch).items():
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
        settings.jdbc_url
        + (";auth=noSasl" if os.environ.get("SPARK_THRIFT_AUTH", "").upper() == "NOSASL" else ""),
        "-n",
        user or os.environ.get("SPARK_THRIFT_USER") or getpass.getuser(),
        *args,
    ]
