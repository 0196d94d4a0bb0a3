"""Health queries against a running cluster: Thrift `select 1`, Connect `select 1`, workers."""

from __future__ import annotations

import json
import urllib.request

from spark_analytics.cluster.config import LOOPBACK, Settings
from spark_analytics.cluster.security import connect_url, read_token, thrift_auth, token_file


def thrift_query(settings: Settings, sql: str = "select 1") -> list[tuple]:
    from pyhive import hive  # installed with dbt-spark[PyHive]

    # user, auth mode and (LDAP) password as documented in docs/cluster.md
    conn = hive.connect(host=LOOPBACK, port=settings.thrift_port, **thrift_auth())
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def connect_query(settings: Settings, sql: str = "select 1 as one") -> list[tuple]:
    from pyspark.sql import SparkSession

    token = read_token(settings) if token_file(settings).exists() else None
    try:
        spark = SparkSession.builder.remote(connect_url(settings, token)).create()
    except Exception as exc:  # the message could carry the URL: never show the token
        raise type(exc)(str(exc).replace(token, "***") if token else str(exc)) from None
    try:
        return [tuple(row) for row in spark.sql(sql).collect()]
    finally:
        spark.stop()


def alive_workers(settings: Settings) -> int:
    url = f"http://{LOOPBACK}:{settings.master_ui_port}/json/"
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
        payload = json.load(resp)
    return sum(1 for w in payload.get("workers", []) if w.get("state") == "ALIVE")
