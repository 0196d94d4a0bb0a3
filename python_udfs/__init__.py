"""Python UDFs callable from Spark SQL (and so from dbt SQL models via `{{ python_udf(...) }}`).

``register_all(spark)`` registers every UDF by name in a SparkSession; the dbt-spark-oss adapter
calls it when it opens an embedded (method: session) connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from python_udfs import merchant, risk

# name -> factory building the Spark UDF (pyspark is imported only when a factory runs)
UDFS: dict[str, Callable[[], Any]] = {
    merchant.NAME: merchant.spark_udf,
    risk.NAME: risk.spark_udf,
}


def register_all(spark: Any) -> list[str]:
    """Register every UDF of this package in ``spark``; returns their names."""
    for name, factory in UDFS.items():
        spark.udf.register(name, factory())
    return sorted(UDFS)
