{#-- Incremental materialization of the spark_oss adapter.
     SQL models: dbt-spark's own materialization, unchanged.
     Python models: as dbt-spark's, except that a first build, a --full-refresh or a rebuild over
     a view go through the staging table + swap of table.sql (the previous relation survives a failing
     model), and the `__dbt_tmp` table of the new rows is dropped before and after. --#}
{% materialization incremental, adapter='spark_oss', supported_languages=['sql', 'python'] -%}
  {%- if model['language'] != 'python' -%}
    {{ return(materialization_incremental_spark()) }}
  {%- endif -%}

  {%- set raw_file_format = config.get('file_format', default='parquet') -%}
  {%- set raw_strategy = config.get('incremental_strategy') or 'append' -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set file_format = dbt_spark_validate_get_file_format(raw_file_format) -%}
  {%- set strategy = dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
  {%- set unique_key = config.get('unique_key', none) -%}
  {%- set partition_by = config.get('partition_by', none) -%}
  {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}
  {%- set incremental_predicates = config.get('predicates', none) or config.get('incremental_predicates', none) -%}
  {%- set full_refresh_mode = should_full_refresh() -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_relation(this) -%}
  {%- set tmp_relation = this.incorporate(path={"identifier": this.identifier ~ '__dbt_tmp'}, type='table') -%}

  {%- if strategy in ['insert_overwrite', 'microbatch'] and partition_by -%}
    {%- call statement() -%}
      set spark.sql.sources.partitionOverwriteMode = DYNAMIC
    {%- endcall -%}
  {%- endif -%}

  {{ run_hooks(pre_hooks) }}

  {%- if existing_relation is none or existing_relation.is_view or full_refresh_mode -%}
    {%- set staging_relation = spark_oss_python_staging(target_relation) -%}
    {%- call statement('main', language='python') -%}
      {{ create_table_as(False, staging_relation, compiled_code, 'python') }}
    {%- endcall -%}
    {% do spark_oss_python_swap(staging_relation, target_relation, existing_relation) %}
  {%- else -%}
    {% do adapter.drop_relation(tmp_relation) %}
    {%- call statement('create_tmp_relation', language='python') -%}
      {{ create_table_as(True, tmp_relation, compiled_code, 'python') }}
    {%- endcall -%}
    {%- do process_schema_changes(on_schema_change, tmp_relation, existing_relation) -%}
    {%- call statement('main') -%}
      {{ dbt_spark_get_incremental_sql(strategy, tmp_relation, target_relation, existing_relation, unique_key, incremental_predicates) }}
    {%- endcall -%}
    {% do adapter.drop_relation(tmp_relation) %}
  {%- endif -%}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}
