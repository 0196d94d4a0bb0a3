"""The local SparkSession of the project's jobs (streaming, benchmarks).

It is the one dbt's embedded (``method: session``) target would build.

The static settings mirror profiles.yml's ``local`` output (warehouse and Derby metastore under
SPARK_STATE_DIR), so tables written here are the ones dbt reads. When dbt runs in the same
process (see ``bench``), its ``getOrCreate()`` returns this session.
"""

from __future__ import annotations

import os
from pathlib import Path

from dbt.adapters.spark_oss.session_lock import LOCK_FILE_NAME, acquire_lock_file
from pyspark.sql import SparkSession


def state_dir() -> Path:
    return Path(os.environ.get("SPARK_STATE_DIR", ".spark")).resolve()


def build_session(app_name: str, hive: bool = True) -> SparkSession:
    """A local session; with ``hive`` it uses the project's metastore and warehouse."""
    state = state_dir()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.appName(app_name)
        .master(os.environ.get("SPARK_MASTER", "local[*]"))
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.default", "parquet")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", os.environ.get("SPARK_UI_ENABLED", "false"))
        .config("spark.ui.showConsoleProgress", "false")
    )
    if hive:
        # The same lock dbt's spark_oss adapter takes: one process per embedded metastore, and
        # a clear message naming the holder instead of Derby's stack trace.
        acquire_lock_file(state / LOCK_FILE_NAME)
        builder = (
            builder.config("spark.sql.warehouse.dir", str(state / "warehouse"))
            .config(
                "spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={state}/metastore_db;create=true",
            )
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={state}")
            .enableHiveSupport()
        )
    return builder.getOrCreate()
