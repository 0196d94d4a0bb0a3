"""Python side of the dbt-on-Spark analytics project (data generator, helpers)."""
