{#- dbt's `unique` test with its own SQL (dbt's test_unique), plus a Spark setting for the shape
    of that query. It groups by a column whose values are meant to be all distinct, so Spark's
    partial aggregation before the shuffle reduces nothing and only costs a second hashing of
    every row (BENCHMARKS.md, stop 54). Applied by the spark_oss adapter's test materialization,
    to this test's query only. -#}
{% test unique(model, column_name) %}
    {{ config(meta={'spark_settings': {'spark.sql.execution.bypassPartialAggregation': true}}) }}
    {{ adapter.dispatch('test_unique', 'dbt')(model, column_name) }}
{% endtest %}
