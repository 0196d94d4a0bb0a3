{#-- persist_docs column comments on every file format. dbt-spark writes them only on delta, hudi
     and iceberg; `alter table ... change column ... comment` is a metastore-only change that
     Parquet tables accept too. The materializations call it on the new version before it is
     published, and the published view (`select *` over the version) shows the version's column
     comments, so `describe` through the Thrift Server lists them. Spark has no bulk form for
     these tables: one statement per documented column. Spark refuses to alter a partition
     column, so partition_by columns keep their description in the docs site only. --#}
{% macro spark_oss__alter_column_comment(relation, column_dict) %}
  {%- if config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ return(spark__alter_column_comment(relation, column_dict)) }}
  {%- endif -%}
  {%- set partition_by = config.get('partition_by') or [] -%}
  {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
  {%- set partition_columns = partition_by | map('lower') | list -%}
  {%- for column_name, column in column_dict.items()
        if column.description and column_name | lower not in partition_columns -%}
    {%- call statement('spark_oss_column_comment') -%}
      alter table {{ relation }} change column
        {{ adapter.quote(column_name) if column.quote else column_name }}
        comment {{ spark_oss_string_literal(column.description) }}
    {%- endcall -%}
  {%- endfor -%}
{% endmacro %}


{#-- `text` as a Spark SQL string literal (backslashes and quotes escaped). --#}
{% macro spark_oss_string_literal(text) -%}
  '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
