"""profiles.yml reads the same Spark settings as spark_analytics.settings, for any environment.

profiles.yml has to work without our scripts, so it spells the settings out with
``env_var('X', 'default')``; these tests render it as dbt would and compare it with the dict
the jobs, the test fixture and the cluster build from ``spark_analytics.settings``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import jinja2
import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_analytics import settings
from spark_analytics.cluster import Settings as ClusterSettings
from spark_analytics.cluster import app_conf
from tests.python.dbt_project import IN_ENV, REPO_ROOT, TEST_SPARK_ENV
from tests.python.thrift_app import thrift_connect_app_conf

PROFILES = Path(__file__).resolve().parents[2] / "profiles.yml"

OVERRIDDEN = {
    "SPARK_MASTER": "local[3]",
    "SPARK_DRIVER_MEMORY": "3g",
    "SPARK_SHUFFLE_PARTITIONS": "7",
    "SPARK_AQE": "false",
    "SPARK_BROADCAST_THRESHOLD": "-1",
    "SPARK_STATE_DIR": '/tmp/some "state" \\ dir',  # spaces, quotes and a backslash
    "SPARK_UI_ENABLED": "true",
}


def _render(value: object, env: Mapping[str, str]) -> object:
    """dbt's env_var(): the variable if set (even empty), else the default, else an error."""
    if not isinstance(value, str):
        return value

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"env var {name} is required by profiles.yml")
        return default

    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)
    jinja.filters["as_number"] = lambda text: text
    return jinja.from_string(value).render(env_var=env_var)


def _server_side_parameters(output: str, env: Mapping[str, str]) -> dict[str, object]:
    profile = yaml.safe_load(PROFILES.read_text())["spark_analytics"]
    params = profile["outputs"][output]["server_side_parameters"]
    return {key: _render(value, env) for key, value in params.items()}


@pytest.mark.parametrize("env", [{}, OVERRIDDEN], ids=["defaults", "overridden"])
def test_local_output_is_settings_local_conf(env: dict[str, str]) -> None:
    assert _server_side_parameters("local", env) == settings.local_conf(env)


def test_cluster_output_sends_the_shared_connection_settings() -> None:
    assert _server_side_parameters("cluster", {}) == settings.CONNECTION_SQL_CONF


@pytest.mark.parametrize("server", ["cluster application", "tests' Thrift server"])
def test_servers_use_the_shared_sql_and_engine_settings(server: str, tmp_path: Path) -> None:
    if server == "cluster application":
        conf = app_conf(ClusterSettings(state_dir=tmp_path))
    else:
        conf = thrift_connect_app_conf(tmp_path, connect_port=15002)
    expected = {
        **settings.sql_conf(),
        **settings.ENGINE_CONF,
        **settings.LOOPBACK_DRIVER_CONF,
        **settings.metastore_conf(str(tmp_path)),
    }
    assert {key: conf[key] for key in expected} == expected


def test_a_started_session_took_the_engine_settings(spark: SparkSession) -> None:
    # Core confs given to an already started context are ignored without a word: check the
    # fixture's real context, and that shuffles are not left on Spark's per-partition files.
    started = spark.sparkContext.getConf()
    assert {key: started.get(key) for key in settings.ENGINE_CONF} == settings.ENGINE_CONF
    assert settings.ENGINE_CONF["spark.shuffle.sort.bypassMergeThreshold"] == "0"


def test_no_reader_sets_partition_overwrite_mode() -> None:
    # Spark's default (static) everywhere; writers that need dynamic set it per write.
    key = "spark.sql.sources.partitionOverwriteMode"
    assert key not in settings.local_conf()
    assert key not in _server_side_parameters("local", {})


def test_shuffle_partitions_are_a_ceiling_that_aqe_coalesces_in_cached_plans(
    spark: SparkSession,
) -> None:
    # The default is sized for 100M rows; small data must not pay for 200 partitions, also
    # where a job caches a shuffled DataFrame and every later stage inherits its partitioning.
    # The fixture's session has settings.sql_conf(); only the partition count is the default's.
    ceiling = int(settings.ENV_DEFAULTS["SPARK_SHUFFLE_PARTITIONS"])
    cached_key = "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning"
    assert spark.conf.get(cached_key) == settings.sql_conf()[cached_key] == "true"
    saved = {key: spark.conf.get(key) for key in ("spark.sql.shuffle.partitions", cached_key)}
    spark.conf.set("spark.sql.shuffle.partitions", str(ceiling))
    try:
        totals = spark.range(10_000).groupBy((F.col("id") % 1_000).alias("key")).count().cache()
        assert totals.count() == 1_000
        assert totals.rdd.getNumPartitions() < ceiling
        totals.unpersist(blocking=True)

        # The setting is what does it: Spark's default keeps a cached plan at the ceiling.
        spark.conf.set(cached_key, "false")
        kept = spark.range(10_000).groupBy((F.col("id") % 999).alias("key")).count().cache()
        assert kept.count() == 999
        assert kept.rdd.getNumPartitions() == ceiling
        kept.unpersist(blocking=True)
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)


def test_an_embedded_session_leaves_nothing_in_the_temp_folder(tmp_path: Path) -> None:
    # Spark never closes its Hive client's session, so Hive's default session folder,
    # <java.io.tmpdir>/<session id>_resources, stayed behind after every embedded run.
    temp, state = tmp_path / "jvm_tmp", tmp_path / "state"
    temp.mkdir()
    script = (
        "from spark_analytics.session import build_session\n"
        "spark = build_session('tmp-hygiene')\n"
        "spark.sql('show databases').collect()\n"
    )
    env = {
        **os.environ,
        **TEST_SPARK_ENV,
        "SPARK_STATE_DIR": str(state),
        "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={temp}",  # every JVM of the session
    }
    result = subprocess.run(
        [str(IN_ENV), sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in temp.iterdir()) == []
    assert (state / "hive" / "resources").is_dir()  # Hive's session folder went here instead


def test_a_session_keeps_the_classes_it_generated(spark: SparkSession) -> None:
    """More generated classes than Spark's default codegen cache holds (100), run twice: the
    second pass compiles nothing (ENGINE_CONF keeps 1000 classes; with 100 it compiles them all
    again), as a warm session's next build reuses the classes of the last one."""
    compiled = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    shapes = [f"select id * {i} + {i + 1} as x from range(3)" for i in range(60)]

    def compiles_of_a_pass() -> int:
        before = compiled.getCount()
        for query in shapes:
            spark.sql(query).collect()
        return compiled.getCount() - before

    assert compiles_of_a_pass() > 100  # two classes a shape
    assert compiles_of_a_pass() == 0
