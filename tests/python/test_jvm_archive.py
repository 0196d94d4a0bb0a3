"""Drivers started through scripts/in_env.sh load Spark's classes from setup's class archive.

spark_analytics/jvm_archive.py builds the archive (an AOT cache on Java 25+, CDS before);
in_env.sh passes it to every PySpark driver. The JVM drops an archive that does not match its
class path without a word, so the test asks the JVM itself (``-Xlog:class+load``) where a
driver's Spark and Hive classes came from.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from spark_analytics import jvm_archive, settings
from tests.python.dbt_project import IN_ENV
from tests.python.java_runtime import major as java_major
from tests.python.java_runtime import path_java_home

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


def _in_env(variable: str, **env: str) -> str:
    """The value in_env.sh gives ``variable`` (``env`` overrides the caller's environment)."""
    run_env = {key: value for key, value in os.environ.items() if key != jvm_archive.ARCHIVE_ENV}
    return subprocess.run(
        [str(IN_ENV), "sh", "-c", f'echo "${variable}"'],
        env={**run_env, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _archive_path(**env: str) -> Path:
    return Path(_in_env(jvm_archive.ARCHIVE_ENV, **env))


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
    missing = tmp_path / f"none{_archive_path().suffix}"
    sources = _class_sources(tmp_path, **{jvm_archive.ARCHIVE_ENV: str(missing)})
    archived = [name for name, source in sources.items() if source.startswith(ARCHIVED)]
    assert not [name for name in archived if name.startswith("org.apache.")], archived[:5]
    assert sources["org.apache.spark.SparkContext"].startswith("file:")


def test_the_archive_kind_follows_the_java_version() -> None:
    """Java 25+ reads an AOT cache (.aot); Java 17 to 24 (a user's JAVA_HOME) a CDS archive."""
    expected = ".aot" if java_major(_in_env("JAVA_HOME")) >= 25 else ".jsa"
    assert _archive_path().suffix == expected


def test_an_older_java_starts_even_when_handed_the_aot_cache(tmp_path: Path) -> None:
    """A nested in_env.sh on a Java below 25 must not pass the AOT cache's options, which such a
    JVM rejects: it takes its own kind, and the driver starts."""
    home = path_java_home()
    if home is None or not (home / "release").exists() or java_major(home) >= 25:
        pytest.skip("no Java below 25 on this machine's PATH")
    aot = _archive_path(JAVA_HOME="")
    if aot.suffix != ".aot" or not aot.exists():
        pytest.skip("setup's Java has no AOT cache here")
    env = {"JAVA_HOME": str(home), jvm_archive.ARCHIVE_ENV: str(aot)}
    assert _archive_path(**env).suffix == ".jsa"
    sources = _class_sources(tmp_path, **env)  # raises if the JVM refused to start
    assert "org.apache.spark.SparkContext" in sources


def test_a_change_of_the_default_settings_rebuilds_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive holds the classes its recording driver loaded, which follow the session's
    settings (e.g. the shuffle writer): another default must not keep an archive recorded
    under the old one. A caller's own environment does not count."""
    java_home, conf_dir = _in_env("JAVA_HOME"), str(tmp_path)
    current = jvm_archive.stamp(java_home, conf_dir)
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "7")
    assert jvm_archive.stamp(java_home, conf_dir) == current
    monkeypatch.setitem(settings.ENGINE_CONF, "spark.shuffle.sort.bypassMergeThreshold", "200")
    assert jvm_archive.stamp(java_home, conf_dir) != current


def test_drivers_and_servers_are_handed_their_archives_alike() -> None:
    """The drivers' archive options live in scripts/in_env.sh, the servers' in
    jvm_archive.USE_OPTIONS (spark_analytics/cluster/archive.py): the same flags, the same kind."""
    archive = _archive_path()
    submit_args = shlex.split(_in_env("PYSPARK_SUBMIT_ARGS"))
    driver_options = shlex.split(submit_args[submit_args.index("--conf") + 1].partition("=")[2])
    wanted = shlex.split(jvm_archive.USE_OPTIONS[archive.suffix].format(path=archive))
    assert [option for option in wanted if option not in driver_options] == []
    server_archive = Path(_in_env("SPARK_SERVER_ARCHIVE"))
    assert server_archive.suffix == archive.suffix and server_archive.parent == archive.parent
