"""SPARK_DRIVER_JIT (scripts/in_env.sh) reaches the driver JVM: `quick` compiles with C1 only.

`make test` sets it; every other command keeps the JVM's default (full: C1, then C2).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.python.dbt_project import IN_ENV

DRIVER = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
bean = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print("ARGS", " ".join(bean.getInputArguments()))
"""


def _driver_args(tmp_path: Path, jit: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "state")}
    for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS", "SPARK_DRIVER_JIT"):  # a fresh shell
        env.pop(name, None)
    if jit is not None:
        env["SPARK_DRIVER_JIT"] = jit
    return subprocess.run(
        [str(IN_ENV), "python", "-c", DRIVER], env=env, capture_output=True, text=True
    )


def _args(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return next(line for line in result.stdout.splitlines() if line.startswith("ARGS "))


def test_quick_drivers_compile_with_c1_only(tmp_path: Path) -> None:
    assert "-XX:TieredStopAtLevel=1" in _args(_driver_args(tmp_path, "quick"))


def test_drivers_keep_the_full_jit_by_default(tmp_path: Path) -> None:
    assert "TieredStopAtLevel" not in _args(_driver_args(tmp_path, None))
    assert "TieredStopAtLevel" not in _args(_driver_args(tmp_path, "full"))


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    result = _driver_args(tmp_path, "fast")
    assert result.returncode == 2
    assert "SPARK_DRIVER_JIT is 'fast': expected full or quick" in result.stderr
