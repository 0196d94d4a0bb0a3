"""The spark_oss adapter: dbt-spark's SparkAdapter plus Python models on open-source Spark."""

from __future__ import annotations

import builtins

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.base.meta import available
from dbt.adapters.spark.connections import SparkConnectionMethod
from dbt.adapters.spark.impl import SparkAdapter
from dbt.adapters.spark_oss.connections import SparkOssConnectionManager
from dbt.adapters.spark_oss.python_submissions import SparkOssPythonJobHelper

SESSION_SUBMISSION = "session"


class SparkOssAdapter(SparkAdapter):
    ConnectionManager = SparkOssConnectionManager

    @classmethod
    def type(cls) -> str:
        return "spark_oss"

    @property
    def default_python_submission_method(self) -> str:
        return SESSION_SUBMISSION

    @property
    def python_submission_helpers(self) -> dict[str, builtins.type[PythonJobHelper]]:
        # Databricks helpers are dropped on purpose: they need a Databricks workspace.
        return {SESSION_SUBMISSION: SparkOssPythonJobHelper}

    @available
    def python_udfs_registered_by_adapter(self) -> bool:
        """True when this target registers the project's Python UDFs (method: session)."""
        creds = self.config.credentials
        return creds.method == SparkConnectionMethod.SESSION and bool(
            getattr(creds, "python_udf_modules", None)
        )
