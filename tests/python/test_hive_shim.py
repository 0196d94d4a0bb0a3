"""The Hive LLAP shim (spark_analytics.cluster.hive_shim) against a JVM with Spark's own jars.

Without the shim, initializing Hive's FunctionRegistry (what the Thrift Server's session close
does) fails on Spark 4's jars; with it, FunctionRegistry initializes and lists its functions.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest
from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
from py4j.protocol import Py4JJavaError

from spark_analytics.cluster.archive import class_path_dir, configured_archive
from spark_analytics.cluster.commands import app_conf, java_home
from spark_analytics.cluster.config import Settings
from spark_analytics.cluster.hive_shim import (
    SHIM_INTERFACES,
    SHIM_JAR_NAME,
    shim_jar_bytes,
    shim_jar_path,
    write_shim_jar,
)

REPO = Path(__file__).resolve().parents[2]
SPARK_JARS = Path(pyspark.__file__).resolve().parent / "jars"
# What Hive's static initializers reflect on (Spark's launcher passes a longer list).
JAVA_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in ("java.lang", "java.net", "java.nio", "java.util", "sun.nio.ch")
]


@contextlib.contextmanager
def _jvm(extra: list[Path]) -> Iterator[JavaGateway]:
    """A plain JVM (no Spark started) with Spark's jars, ``extra`` first, driven through py4j."""
    py4j_jars = sorted(SPARK_JARS.glob("py4j-*.jar"))
    assert py4j_jars, f"no py4j jar in {SPARK_JARS}"
    port, process = launch_gateway(
        jarpath=str(py4j_jars[0]),
        classpath=os.pathsep.join([*(str(p) for p in extra), f"{SPARK_JARS}/*"]),
        javaopts=JAVA_OPENS,
        java_path=str(Path(java_home()) / "bin" / "java"),
        die_on_exit=True,
        return_proc=True,
    )
    gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port))
    try:
        yield gateway
    finally:
        gateway.shutdown()
        process.kill()
        process.wait(timeout=30)


def _function_registry(gateway: JavaGateway) -> Any:
    """Hive's FunctionRegistry, its static initializer run (what failed in the Thrift Server)."""
    name = "org.apache.hadoop.hive.ql.exec.FunctionRegistry"
    gateway.jvm.java.lang.Class.forName(name)  # initializes; a failure is a Py4JJavaError
    return getattr(gateway.jvm, name)


def test_spark_jars_alone_fail_and_the_shim_fixes_it(tmp_path: Path) -> None:
    with _jvm([]) as gateway:
        with pytest.raises(Py4JJavaError, match=r"LlapSigner\$Signable"):
            _function_registry(gateway)
    with _jvm([write_shim_jar(shim_jar_path(tmp_path))]) as gateway:
        registry = _function_registry(gateway)
        # Hive's built-in functions, get_splits (the UDTF that needed the shim) among them.
        assert len(list(registry.getFunctionNames())) > 200
        assert registry.getFunctionInfo("get_splits") is not None


def test_shim_jar_is_reproducible_and_holds_only_the_interfaces(tmp_path: Path) -> None:
    first = write_shim_jar(tmp_path / "jars" / "shim.jar")
    mtime = first.stat().st_mtime_ns
    assert write_shim_jar(first) == first and first.stat().st_mtime_ns == mtime  # idempotent
    assert first.read_bytes() == shim_jar_bytes()
    with zipfile.ZipFile(first) as jar:
        classes = sorted(n.removesuffix(".class") for n in jar.namelist() if n.endswith(".class"))
    assert classes == sorted(SHIM_INTERFACES)
    assert all(name.startswith("org/apache/hadoop/hive/llap/") for name in classes)


def test_thrift_application_puts_the_shim_first_on_the_driver_class_path(tmp_path: Path) -> None:
    # In the state folder, or beside the servers' class archive when it is built (archive.py).
    archive = configured_archive()
    if archive is not None and archive.exists():
        shim = str(class_path_dir(archive) / "jars" / SHIM_JAR_NAME)
    else:
        shim = str(shim_jar_path(tmp_path))
    assert app_conf(Settings(state_dir=tmp_path))["spark.driver.extraClassPath"] == shim
    # A user's own class path (CLUSTER_EXTRA_CONF) is kept, after the shim.
    user = Settings(state_dir=tmp_path, extra_conf=(("spark.driver.extraClassPath", "/opt/x.jar"),))
    assert app_conf(user)["spark.driver.extraClassPath"] == f"{shim}{os.pathsep}/opt/x.jar"


def test_cli_writes_the_jar_for_a_users_own_thrift_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spark_analytics.cluster", "hive-shim", str(tmp_path / "jars")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "jars" / SHIM_JAR_NAME
    assert done.stdout.strip() == str(written)
    assert written.read_bytes() == shim_jar_bytes()
