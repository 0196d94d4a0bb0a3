"""profiles.yml of the small test projects: one builder, so their embedded targets agree.

Each project's target ``local`` runs dbt-spark-oss's embedded session with the whole Spark
state (metastore, warehouse) under ``$SPARK_STATE_DIR``, bound to loopback, without UI; the
arguments say what differs (cores, threads, UDF modules, extra Spark settings or targets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

_STATE = "{{ env_var('SPARK_STATE_DIR') }}"


def session_profile(
    name: str,
    schema: str | None = None,
    *,
    cores: int = 1,
    threads: int = 1,
    udf_modules: bool = False,
    conf: Mapping[str, str] | None = None,
    outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """profiles.yml with profile ``name`` whose target ``local`` writes to schema ``schema``
    (default ``name``) on ``local[cores]`` with as many shuffle partitions and ``threads`` dbt
    threads. ``udf_modules`` keeps the adapter's default Python UDF modules (the repository's
    ``python_udfs``); ``conf`` adds Spark settings and ``outputs`` further targets."""
    local: dict[str, Any] = {
        "type": "spark_oss",
        "method": "session",
        "host": "localhost",
        "schema": schema or name,
        "threads": threads,
        "server_side_parameters": {
            "spark.master": f"local[{cores}]",
            "spark.sql.warehouse.dir": f"{_STATE}/warehouse",
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={_STATE}/metastore_db;create=true"
            ),
            "spark.hadoop.hive.downloaded.resources.dir": f"{_STATE}/hive/resources",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={_STATE}",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(cores),
            **(conf or {}),
        },
    }
    if not udf_modules:
        local["python_udf_modules"] = []
    profile = {name: {"target": "local", "outputs": {"local": local, **(outputs or {})}}}
    return yaml.safe_dump(profile, sort_keys=False)
