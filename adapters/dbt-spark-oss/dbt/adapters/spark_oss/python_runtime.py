"""Helpers imported by the compiled code of Python models (see macros/python_model.sql)."""

from __future__ import annotations

from typing import Any


def to_spark_dataframe(spark: Any, df: Any) -> Any:
    """The model's return value as a Spark DataFrame (Spark, pandas-on-Spark or pandas)."""
    from pyspark.sql import DataFrame

    if isinstance(df, DataFrame):
        return df
    to_spark = getattr(df, "to_spark", None)
    if callable(to_spark):  # pandas-on-Spark
        return to_spark()
    try:
        import pandas
    except ImportError:  # pragma: no cover
        pandas = None
    if pandas is not None and isinstance(df, pandas.DataFrame):
        return spark.createDataFrame(df)
    raise TypeError(
        f"a Python model must return a Spark or pandas DataFrame, got {type(df).__name__}"
    )


def write_table(
    df: Any,
    relation: str,
    file_format: str = "parquet",
    partition_by: str | list[str] | None = None,
) -> None:
    """Create (or replace) ``relation`` as a managed table holding ``df``."""
    writer = df.write.mode("overwrite").format(file_format)
    if file_format in ("delta", "iceberg"):
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        cols = [partition_by] if isinstance(partition_by, str) else list(partition_by)
        writer = writer.partitionBy(*cols)
    writer.saveAsTable(relation)
