"""The spark_oss adapter: dbt-spark's SparkAdapter plus Python models on open-source Spark."""

from __future__ import annotations

import builtins
from importlib import import_module
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.base.meta import available
from dbt.adapters.base.relation import AdapterTrackingRelationInfo
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

    @classmethod
    def get_adapter_run_info(cls, config: Any) -> AdapterTrackingRelationInfo:
        # The base class derives the module from the class name ("sparkoss"): name it here.
        return AdapterTrackingRelationInfo(
            adapter_name="spark_oss",
            base_adapter_version=import_module("dbt.adapters.__about__").version,
            adapter_version=import_module("dbt.adapters.spark_oss.__version__").version,
            model_adapter_details=cls._get_adapter_specific_run_info(config),
        )

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
