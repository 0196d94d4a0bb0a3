from dbt.adapters.base import AdapterPlugin
from dbt.adapters.spark_oss.connections import SparkOssConnectionManager, SparkOssCredentials
from dbt.adapters.spark_oss.impl import SparkOssAdapter
from dbt.adapters.spark_oss.process_exit import leave_objects_at_exit
from dbt.include import spark_oss

__all__ = ["Plugin", "SparkOssAdapter", "SparkOssConnectionManager", "SparkOssCredentials"]

leave_objects_at_exit()

Plugin = AdapterPlugin(
    adapter=SparkOssAdapter,  # type: ignore[arg-type]
    credentials=SparkOssCredentials,
    include_path=spark_oss.PACKAGE_PATH,
    dependencies=["spark"],
)
