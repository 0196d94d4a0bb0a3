{#-- Incremental strategies of the spark_oss adapter.
     dbt-spark only allows `merge` on delta/iceberg/hudi (Spark SQL has no MERGE for parquet/orc/
     hive tables). Here `merge` works for every file format: on formats without MERGE the table is
     rewritten with merge semantics (keep target rows whose unique_key has no match in the new
     rows, add all new rows) through a staging table and one `insert overwrite`. A failure before
     that statement leaves the target untouched.
     These two macros are called by name from dbt-spark's incremental materialization; the
     adapter's own package takes precedence over dbt-spark's. --#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
  {% set invalid_strategy_msg -%}
    Invalid incremental strategy provided: {{ raw_strategy }}
    Expected one of: 'append', 'merge', 'insert_overwrite', 'microbatch'
  {%- endset %}
  {% set invalid_insert_overwrite_endpoint_msg -%}
    Invalid incremental strategy provided: {{ raw_strategy }}
    You cannot use this strategy when connecting via endpoint
    Use the 'append' or 'merge' strategy instead
  {%- endset %}
  {% if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] %}
    {% do exceptions.raise_compiler_error(invalid_strategy_msg) %}
  {% elif raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint %}
    {% do exceptions.raise_compiler_error(invalid_insert_overwrite_endpoint_msg) %}
  {% endif %}
  {% do return(raw_strategy) %}
{% endmacro %}


{% macro spark_oss_has_native_merge(existing) %}
  {%- set file_format = config.get('file_format', 'parquet') -%}
  {{ return(file_format in ['delta', 'iceberg', 'hudi']
            or existing.is_delta or existing.is_iceberg or existing.is_hudi) }}
{% endmacro %}


{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
  {%- if strategy == 'append' -%}
    {{ get_insert_into_sql(source, target) }}
  {%- elif strategy == 'insert_overwrite' -%}
    {{ get_insert_overwrite_sql(source, target, existing) }}
  {%- elif strategy == 'microbatch' -%}
    {% set missing_partition_key_microbatch_msg -%}
      dbt-spark 'microbatch' incremental strategy requires a `partition_by` config.
      Ensure you are using a `partition_by` column that is of grain {{ config.get('batch_size') }}.
    {%- endset %}
    {%- if not config.get('partition_by') -%}
      {{ exceptions.raise_compiler_error(missing_partition_key_microbatch_msg) }}
    {%- endif -%}
    {{ get_insert_overwrite_sql(source, target, existing) }}
  {%- elif strategy == 'merge' and spark_oss_has_native_merge(existing) -%}
    {{ get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates) }}
  {%- elif strategy == 'merge' and not unique_key -%}
    {#-- merge without a key matches nothing: every new row is inserted #}
    {{ get_insert_into_sql(source, target) }}
  {%- elif strategy == 'merge' -%}
    {{ spark_oss_merge_by_rewrite_sql(source, target, unique_key, incremental_predicates) }}
  {%- else -%}
    {% set no_sql_for_strategy_msg -%}
      No known SQL for the incremental strategy provided: {{ strategy }}
    {%- endset %}
    {%- do exceptions.raise_compiler_error(no_sql_for_strategy_msg) -%}
  {%- endif -%}
{% endmacro %}


{#-- Runs the staging + insert overwrite statements and returns the final statement (dropping the
     staging table), which the materialization executes as its `main` statement. --#}
{% macro spark_oss_merge_by_rewrite_sql(source, target, unique_key, incremental_predicates) %}
  {%- set stage = target.incorporate(path={"identifier": target.identifier ~ '__dbt_merge'}, type='table') -%}
  {%- set dest_columns = adapter.get_columns_in_relation(target) -%}
  {%- set cols = dest_columns | map(attribute='quoted') | join(', ') -%}
  {%- set keys = [unique_key] if unique_key is string else unique_key -%}
  {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
  {%- for key in keys -%}
    {%- do predicates.append('DBT_INTERNAL_SOURCE.' ~ key ~ ' = DBT_INTERNAL_DEST.' ~ key) -%}
  {%- endfor -%}
  {%- if execute -%}
    {% call statement('spark_oss_merge_stage_drop') -%}
      drop table if exists {{ stage }}
    {%- endcall %}
    {% call statement('spark_oss_merge_stage') -%}
      create table {{ stage }} using parquet as
      select {{ cols }} from {{ target }} as DBT_INTERNAL_DEST
      where not exists (
        select 1 from {{ source }} as DBT_INTERNAL_SOURCE
        where {{ predicates | join(' and ') }}
      )
      union all
      select {{ cols }} from {{ source }}
    {%- endcall %}
    {% call statement('spark_oss_merge_overwrite') -%}
      insert overwrite table {{ target }}
      select {{ cols }} from {{ stage }}
    {%- endcall %}
  {%- endif %}
  -- dbt-spark-oss merge by rewrite: {{ target }} was rewritten from {{ stage }}; drop the stage
  drop table if exists {{ stage }}
{% endmacro %}
