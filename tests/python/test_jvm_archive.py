"""Drivers started through scripts/in_env.sh load Spark's classes from setup's class archive.

spark_analytics/jvm_archive.py builds the archive (an AOT cache on Java 25+, CDS before);
in_env.sh passes it to every PySpark driver. The JVM drops an archive that does not match its
class path without a word, so the test asks the JVM itself (``-Xlog:class+load``) where a
driver's Spark and Hive classes came from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spark_analytics import jvm_archive
from tests.python.dbt_project import IN_ENV

ARCHIVED = "shared objects file"  # class+load's source of a class mapped from an archive

DRIVER = """
import sys
from pyspark.sql import SparkSession
from spark_analytics.settings import local_conf
builder = SparkSession.builder
for key, value in local_conf().items():
    builder = builder.config(key, value)
value = local_conf()["spark.driver.extraJavaOptions"] + " -Xlog:class+load=info:file=" + sys.argv[1]
spark = builder.config("spark.driver.extraJavaOptions", value).enableHiveSupport().getOrCreate()
spark.sql("show databases").collect()
"""


def _class_sources(tmp_path: Path, **env: str) -> dict[str, str]:
    log = tmp_path / "classes.log"
    run_env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "state"), **env}
    for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS"):  # as a fresh shell: in_env.sh sets them
        run_env.pop(name, None)
    subprocess.run([str(IN_ENV), "python", "-c", DRIVER, str(log)], env=run_env, check=True)
    sources = {}
    for line in log.read_text().splitlines():
        # [0.3s][info][class,load] org.apache.spark.SparkContext source: shared objects file (top)
        name, _, source = line.partition("[class,load] ")[2].partition(" source: ")
        if name:
            sources[name] = source
    return sources


def _archive_path(**env: str) -> Path:
    run_env = {**os.environ, **env}
    run_env.pop(jvm_archive.ARCHIVE_ENV, None)
    return Path(
        subprocess.run(
            [str(IN_ENV), "sh", "-c", f'echo "${jvm_archive.ARCHIVE_ENV}"'],
            env=run_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )


def test_driver_classes_come_from_the_archive(tmp_path: Path) -> None:
    archive = _archive_path()
    assert archive.exists(), f"setup did not build {archive}"
    sources = _class_sources(tmp_path)
    for name in (
        "org.apache.spark.SparkContext",
        "org.apache.spark.sql.hive.HiveExternalCatalog",
        "org.apache.hadoop.hive.metastore.HiveMetaStoreClient",
    ):
        assert sources[name].startswith(ARCHIVED), (name, sources[name])


def test_without_the_archive_the_driver_starts_normally(tmp_path: Path) -> None:
    sources = _class_sources(tmp_path, **{jvm_archive.ARCHIVE_ENV: str(tmp_path / "none.jsa")})
    archived = [name for name, source in sources.items() if source.startswith(ARCHIVED)]
    assert not [name for name in archived if name.startswith("org.apache.")], archived[:5]
    assert sources["org.apache.spark.SparkContext"].startswith("file:")


def test_the_archive_kind_follows_the_java_version() -> None:
    """Java 25+ reads an AOT cache (.aot); a user's own Java 17 to 24, a CDS archive (.jsa)."""
    assert _archive_path().suffix == ".aot"  # setup's runtime is Java 25
    java = shutil.which("java")
    home = Path(os.path.realpath(java)).parent.parent if java else None
    release = home / "release" if home else None
    if release is None or not release.exists() or 'JAVA_VERSION="17' not in release.read_text():
        pytest.skip("no Java 17 on this machine's PATH")
    assert _archive_path(JAVA_HOME=str(home)).suffix == ".jsa"
