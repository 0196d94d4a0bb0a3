"""The local SparkSession of the project's jobs (streaming, benchmarks).

It is the one dbt's embedded (``method: session``) target would build: its configuration is
``spark_analytics.settings.local_conf`` (warehouse and Derby metastore under SPARK_STATE_DIR),
which profiles.yml's ``local`` output mirrors, so tables written here are the ones dbt reads.
When dbt runs in the same process (see ``bench``), its ``getOrCreate()`` returns this session.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession
from spark_metastore_lock import LOCK_FILE_NAME, acquire_lock_file, record_session_jvm

from spark_analytics.settings import LOOPBACK, env_setting, local_conf, session_conf


def state_dir() -> Path:
    return Path(env_setting("SPARK_STATE_DIR")).resolve()


def build_session(app_name: str, hive: bool = True) -> SparkSession:
    """A local session; with ``hive`` it uses the project's metastore and warehouse."""
    state = state_dir()
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    env = {**os.environ, "SPARK_STATE_DIR": str(state)}
    conf = local_conf(env, app_name) if hive else session_conf(env, app_name)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    if hive:
        # The same lock dbt's spark_oss adapter takes: one process per embedded metastore, and
        # a clear message naming the holder instead of Derby's stack trace.
        lock = acquire_lock_file(state / LOCK_FILE_NAME)
        session = builder.enableHiveSupport().getOrCreate()
        record_session_jvm(lock, session)
        return session
    return builder.getOrCreate()
