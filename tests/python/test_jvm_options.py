"""SPARK_GC and SPARK_JIT (scripts/in_env.sh) reach every Spark JVM.

SPARK_GC picks the garbage collector: by default parallel with SPARK_JIT=quick (small data),
G1 otherwise; parallel or g1 force one. SPARK_JIT=quick compiles with C1 only; `make test` sets
it, every other command keeps the JVM's default (full: C1, then C2). in_env.sh resolves both into
SPARK_JVM_OPTIONS, which its drivers get and the local cluster (spark_analytics.cluster.commands)
gives its daemons, Thrift/Connect driver and executors; test_cluster.py checks the running
cluster's processes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from spark_analytics import cluster as cl
from tests.python.dbt_project import IN_ENV

DRIVER = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
bean = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print("ARGS", " ".join(bean.getInputArguments()))
beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
print("GC", ",".join(sorted(bean.getName() for bean in beans)))
"""


def _driver_args(
    tmp_path: Path, jit: str | None, gc: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "state")}
    for name in (
        "SPARK_CONF_DIR",
        "PYSPARK_SUBMIT_ARGS",
        "SPARK_JIT",
        "SPARK_GC",
        "SPARK_JVM_OPTIONS",
    ):
        env.pop(name, None)
    for name, value in (("SPARK_JIT", jit), ("SPARK_GC", gc)):
        if value is not None:
            env[name] = value
    return subprocess.run(
        [str(IN_ENV), "python", "-c", DRIVER], env=env, capture_output=True, text=True
    )


def _printed(result: subprocess.CompletedProcess[str], what: str) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return next(line for line in result.stdout.splitlines() if line.startswith(f"{what} "))


def _args(result: subprocess.CompletedProcess[str]) -> str:
    return _printed(result, "ARGS")


def _exported_options(tmp_path: Path, jit: str, gc: str = "auto") -> str:
    env = {
        **os.environ,
        "SPARK_STATE_DIR": str(tmp_path / "state"),
        "SPARK_JIT": jit,
        "SPARK_GC": gc,
    }
    done = subprocess.run(
        [str(IN_ENV), "sh", "-c", 'printf %s "$SPARK_JVM_OPTIONS"'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_quick_drivers_compile_with_c1_only(tmp_path: Path) -> None:
    args = _args(_driver_args(tmp_path, "quick")).split()
    assert "-XX:TieredStopAtLevel=1" in args
    # The driver has every option the cluster is handed: one list for both.
    options = _exported_options(tmp_path, "quick").split()
    assert "-XX:TieredStopAtLevel=1" in options
    assert set(options) <= set(args)


def test_the_local_cluster_gives_every_jvm_the_resolved_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    options = _exported_options(tmp_path, "quick")
    monkeypatch.setenv("SPARK_JVM_OPTIONS", options)
    monkeypatch.setenv("SPARK_DAEMON_JAVA_OPTS", "-Dusers.own=1")
    settings = cl.Settings(state_dir=tmp_path / "cluster")
    assert cl.app_conf(settings)["spark.executor.defaultJavaOptions"] == options
    # Master, workers and the Thrift/Connect driver: Spark's daemon options, after the user's.
    assert cl.process_env(settings)["SPARK_DAEMON_JAVA_OPTS"] == f"-Dusers.own=1 {options}"


def test_the_local_cluster_keeps_the_jvm_default_without_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Outside scripts/in_env.sh (no SPARK_JVM_OPTIONS) the cluster adds no JVM flag."""
    monkeypatch.setenv("SPARK_JVM_OPTIONS", "")
    monkeypatch.delenv("SPARK_DAEMON_JAVA_OPTS", raising=False)
    settings = cl.Settings(state_dir=tmp_path / "cluster")
    assert "TieredStopAtLevel" not in " ".join(cl.app_command(settings))
    assert "spark.executor.defaultJavaOptions" not in cl.app_conf(settings)
    assert cl.process_env(settings)["SPARK_DAEMON_JAVA_OPTS"] == ""


def test_drivers_keep_the_full_jit_by_default(tmp_path: Path) -> None:
    assert "TieredStopAtLevel" not in _args(_driver_args(tmp_path, None))
    assert "TieredStopAtLevel" not in _args(_driver_args(tmp_path, "full"))


def test_the_collector_is_parallel_for_quick_and_g1_for_full_unless_told(tmp_path: Path) -> None:
    """The collector the JVM runs, as its management beans name it, not only the flag."""
    parallel, g1 = "GC PS MarkSweep,PS Scavenge", "GC G1 "  # G1's bean names vary by release
    for jit, gc, expected in (
        (None, None, g1),
        ("quick", None, parallel),
        (None, "parallel", parallel),
        ("quick", "g1", g1),
    ):
        assert _printed(_driver_args(tmp_path, jit, gc), "GC").startswith(expected), (jit, gc)
    assert _exported_options(tmp_path, "full") == "-XX:+UseG1GC"
    assert _exported_options(tmp_path, "quick").split()[0] == "-XX:+UseParallelGC"
    assert _exported_options(tmp_path, "full", gc="parallel") == "-XX:+UseParallelGC"


def test_an_unknown_collector_is_refused(tmp_path: Path) -> None:
    result = _driver_args(tmp_path, None, gc="zgc")
    assert result.returncode == 2
    assert "SPARK_GC is 'zgc': expected auto, parallel or g1" in result.stderr


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    result = _driver_args(tmp_path, "fast")
    assert result.returncode == 2
    assert "SPARK_JIT is 'fast': expected full or quick" in result.stderr


def test_the_former_name_is_refused_with_the_new_one(tmp_path: Path) -> None:
    env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "state"), "SPARK_DRIVER_JIT": "quick"}
    result = subprocess.run([str(IN_ENV), "true"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "SPARK_DRIVER_JIT was renamed SPARK_JIT" in result.stderr
