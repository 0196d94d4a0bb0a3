{#-- Python models on open-source Spark (dbt-spark-oss).
     create_table_as is dispatched, so spark_oss__create_table_as wins for this adapter; SQL on
     plain files is created by spark_oss_create_version_as, its query carrying the column docs
     (persist_docs.sql). --#}

{% macro spark_oss__create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {%- if language == 'python' -%}
    {{ spark_oss__py_write_table(compiled_code=compiled_code, target_relation=relation) }}
  {%- elif temporary or config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ spark__create_table_as(temporary, relation, compiled_code, language) }}
  {%- else -%}
    {{ spark_oss_create_version_as(relation, compiled_code) }}
  {%- endif -%}
{%- endmacro %}


{#-- dbt-spark's `create table ... as` for plain files, analysing the model's query once. When an
     enforced contract or the docs need the query's columns before the create, the query is a
     temporary view that keeps its analysed plan (spark_oss_query_view), which the contract's
     check (dbt's assertion), the docs' temporary view (persist_docs.sql) and the create read.
     The create reads the contract's columns in its order, so those names are the docs' view's
     column list. The create also checks the contract's constraints on every row it writes
     (constraints.sql). --#}
{% macro spark_oss_create_version_as(relation, compiled_code) -%}
  {%- set sql = compiled_code -%}
  {%- set columns = none -%}
  {%- set contracted = config.get('contract').enforced -%}
  {%- if contracted or spark_oss_column_docs() -%}
    {%- set sql = 'select * from ' ~ spark_oss_query_view(relation, compiled_code) -%}
  {%- endif -%}
  {%- if contracted -%}
    {{ get_assert_columns_equivalent(sql) }}
    {%- set sql = spark_oss_contract_checked_select(sql) -%}
    {%- set columns = [] -%}
    {%- for column in model['columns'].values() -%}
      {#- The name Spark gives the column: the select writes an unquoted name as is. -#}
      {%- set name = column.name -%}
      {%- if not column.get('quote') and name | length > 1 and name.startswith('`') and name.endswith('`') -%}
        {%- set name = name[1:-1] | replace('``', '`') -%}
      {%- endif -%}
      {%- do columns.append(name) -%}
    {%- endfor -%}
  {%- endif -%}
  create table {{ relation }}
  {{ file_format_clause() }}
  {{ options_clause() }}
  {{ tblproperties_clause() }}
  {{ partition_cols(label="partitioned by") }}
  {{ clustered_cols(label="clustered by") }}
  {{ location_clause() }}
  {{ comment_clause() }}
  as
  {{ spark_oss_sql_with_column_docs(relation, sql, columns) }}
{%- endmacro %}


{#-- The model's code must come first so that Python line numbers match the model file. --#}
{% macro spark_oss__py_write_table(compiled_code, target_relation) -%}
{{ compiled_code }}
# --- dbt-spark-oss: materialization code --- #
import json as __dbt_json
from dbt.adapters.spark_oss.python_runtime import to_spark_dataframe as __dbt_to_spark
from dbt.adapters.spark_oss.python_runtime import write_table as __dbt_write_table

dbt = dbtObj(spark.table)
df = model(dbt, spark)
__dbt_write_table(
    __dbt_to_spark(spark, df),
    {{ target_relation | string | tojson }},
    file_format={{ config.get('file_format', 'parquet') | tojson }},
    partition_by=__dbt_json.loads({{ config.get('partition_by') | tojson | tojson }}),
)
{%- endmacro %}
