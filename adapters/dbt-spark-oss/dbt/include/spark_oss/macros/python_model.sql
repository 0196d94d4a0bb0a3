{#-- Python models on open-source Spark (dbt-spark-oss).
     create_table_as is dispatched, so spark_oss__create_table_as wins for this adapter; SQL keeps
     dbt-spark's implementation, its query carrying the column docs (persist_docs.sql). --#}

{% macro spark_oss__create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {%- if language == 'python' -%}
    {{ spark_oss__py_write_table(compiled_code=compiled_code, target_relation=relation) }}
  {%- elif temporary or config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ spark__create_table_as(temporary, relation, compiled_code, language) }}
  {%- else -%}
    {#- The column docs go into the create itself (persist_docs.sql). -#}
    {{ spark__create_table_as(False, relation, spark_oss_sql_with_column_docs(relation, compiled_code), language) }}
  {%- endif -%}
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
