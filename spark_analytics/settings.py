"""The project's Spark settings, in one place.

Every Spark session of the project takes its configuration from here:

- ``local_conf``: the embedded session (dbt's ``local`` target, the jobs' ``session.py``). The
  ``local`` output of ``profiles.yml`` spells the same dict out with ``env_var()`` so dbt runs
  without our scripts; ``tests/python/test_settings.py`` renders it and checks the two agree.
- ``ENGINE_CONF``: how shuffles are written and how many generated classes a JVM keeps, on the
  embedded session and the cluster alike.
- ``sql_conf``: the SQL semantics every target shares (time zone, default format, AQE,
  broadcast threshold); the cluster's application conf (``spark_analytics.cluster``) and the
  test fixture build on it too. ``CONNECTION_SQL_CONF`` is the part the ``cluster`` output
  of ``profiles.yml`` sends when each Thrift connection opens.

Environment variables override the defaults (the names are in ``ENV_DEFAULTS``); as in dbt's
``env_var()``, a variable that is set wins even when it is empty.

``spark.sql.sources.partitionOverwriteMode`` is deliberately not set: Spark's default
(``static``) applies to every session, and the writers that need ``dynamic`` set it for their
write (dbt-spark's ``insert_overwrite``, the adapter's Python incremental models, the stream
ingest).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

LOOPBACK = "127.0.0.1"
APP_NAME = "dbt-spark-analytics"

# Environment variable -> default (the same defaults as profiles.yml's env_var() calls).
ENV_DEFAULTS: dict[str, str] = {
    "SPARK_MASTER": "local[*]",
    "SPARK_DRIVER_MEMORY": "4g",
    "SPARK_SHUFFLE_PARTITIONS": "200",
    "SPARK_AQE": "true",
    "SPARK_BROADCAST_THRESHOLD": "10MB",
    "SPARK_STATE_DIR": ".spark",
    "SPARK_UI_ENABLED": "false",
}

# Runtime SQL confs a Thrift connection can set for itself (profiles.yml `cluster` output).
CONNECTION_SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.default": "parquet",
}

# Engine settings fixed when an application starts (not SQL confs a Thrift connection could send:
# a user's own Thrift Server needs them at start, docs/cluster.md): the embedded session, the
# jobs and `make cluster-up`'s application.
ENGINE_CONF: dict[str, str] = {
    # How map tasks write shuffle files. Spark's default (200) takes the "bypass merge" path for
    # a shuffle with no map-side combine (every SQL exchange) and at most 200 reduce partitions,
    # which is every shuffle of ours (SPARK_SHUFFLE_PARTITIONS, a ceiling AQE coalesces): each
    # map task writes one file per reduce partition, 200 files for a handful of rows, then
    # concatenates them. 0: each map task writes its records grouped by partition straight into
    # one file (the serialized sort writer). The 1M `dbt build` is 6 % faster (its data tests
    # 8 %); the marts path is unchanged at 1M and 10M, and so is a build at the suites' 4
    # partitions (BENCHMARKS.md, stop 36).
    "spark.shuffle.sort.bypassMergeThreshold": "0",
    # Compiled classes of generated code a JVM keeps (Spark's default: 100). One `dbt build` of
    # the project generates about 450 distinct ones, so with 100 the same session recompiled
    # about 590 classes at every later build (a warm session: the stream pipeline's cycles, the
    # suites' warm runners), and about 90 within the first; with 1000, about 20 to 90 at a
    # later build, memory unchanged (BENCHMARKS.md, stop 43).
    "spark.sql.codegen.cache.maxEntries": "1000",
}

# The driver listens on loopback only.
LOOPBACK_DRIVER_CONF: dict[str, str] = {
    "spark.driver.bindAddress": LOOPBACK,
    "spark.driver.host": LOOPBACK,
}


def env_setting(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of one of ``ENV_DEFAULTS``' variables in ``env`` (default: ``os.environ``)."""
    source = os.environ if env is None else env
    return source.get(name, ENV_DEFAULTS[name])


def sql_conf(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """SQL semantics shared by every target: UTC, Parquet by default, AQE, broadcast threshold."""
    return {
        "spark.sql.adaptive.enabled": env_setting("SPARK_AQE", env),
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # AQE sizes each shuffle from SPARK_SHUFFLE_PARTITIONS (a ceiling) down to what the data
        # needs, cached plans included (Spark's default leaves a cached plan at the ceiling).
        "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
        "spark.sql.autoBroadcastJoinThreshold": env_setting("SPARK_BROADCAST_THRESHOLD", env),
        **CONNECTION_SQL_CONF,
    }


def metastore_conf(state_dir: str) -> dict[str, str]:
    """Warehouse and Derby metastore under ``state_dir`` (the Hive catalog of a session)."""
    return {
        "spark.sql.warehouse.dir": f"{state_dir}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={state_dir}/metastore_db;create=true"
        ),
    }


def session_conf(env: Mapping[str, str] | None = None, app_name: str = APP_NAME) -> dict[str, str]:
    """The embedded session without its metastore: master, memory, partitions, SQL, loopback."""
    return {
        "spark.master": env_setting("SPARK_MASTER", env),
        "spark.app.name": app_name,
        "spark.driver.memory": env_setting("SPARK_DRIVER_MEMORY", env),
        "spark.sql.shuffle.partitions": env_setting("SPARK_SHUFFLE_PARTITIONS", env),
        **sql_conf(env),
        **ENGINE_CONF,
        **LOOPBACK_DRIVER_CONF,
        "spark.ui.enabled": env_setting("SPARK_UI_ENABLED", env),
        "spark.ui.showConsoleProgress": "false",
    }


def local_conf(env: Mapping[str, str] | None = None, app_name: str = APP_NAME) -> dict[str, str]:
    """The embedded session with its Hive metastore: profiles.yml's `local` output, exactly."""
    state_dir = env_setting("SPARK_STATE_DIR", env)
    # Double-quoted for Spark's option parser: a state dir may contain spaces and quotes.
    quoted = state_dir.replace("\\", "\\\\").replace('"', '\\"')
    return {
        **session_conf(env, app_name),
        **metastore_conf(state_dir),
        # Spark's Hive client opens one Hive session per JVM and never closes it (SPARK-51571),
        # so Hive's default folder for it, /tmp/<session id>_resources, stayed behind after every
        # run. One JVM per state dir (the metastore lock), so one fixed folder there.
        "spark.hadoop.hive.downloaded.resources.dir": f"{state_dir}/hive/resources",
        "spark.driver.extraJavaOptions": f'-Dderby.system.home="{quoted}"',
    }
