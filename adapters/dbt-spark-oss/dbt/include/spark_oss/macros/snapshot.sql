{#-- Snapshot materialization of the spark_oss adapter (type-2 history, `dbt snapshot`).
     On delta/iceberg/hudi, dbt-spark's own (MERGE INTO exists there). dbt-spark refuses every other
     format; here they are copy-on-write with the crash-safe publishing of publish.sql: each run
     writes a complete new version of the history and publishes it in one metastore operation.

     The history is exactly what dbt-core 1.11's default snapshot materialization and
     default__snapshot_merge_sql give, with dbt-core's own strategies (strategy_dispatch:
     timestamp, check, custom), first build (build_snapshot_table) and staging rows
     (build_snapshot_staging_table / snapshot_staging_table: hard_deletes ignore | invalidate |
     new_record, snapshot_table_column_names, dbt_valid_to_current). Only the MERGE is replaced:
       new version = every published row, its valid_to closed where a staging row of change type
                     'update' or 'delete' has its scd_id and the row is current (valid_to null or
                     = dbt_valid_to_current)                              (MERGE ... when matched)
                   + the staging rows of change type 'insert' whose scd_id is not in the history
                                                                       (MERGE ... when not matched)
     New source columns are columns of the new version (null in older rows) instead of an
     `alter table ... add columns`. Nothing is visible before the one `alter view` of
     spark_oss_publish: a run killed at any point leaves the previous history published, unchanged. --#}
{% materialization snapshot, adapter='spark_oss' %}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- if file_format in ['delta', 'iceberg', 'hudi'] -%}
    {{ return(materialization_snapshot_spark()) }}
  {%- endif -%}

  {%- set target_table = model.get('alias', model.get('name')) -%}
  {%- set strategy_name = config.get('strategy') -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set existing = adapter.get_relation(database=model.database, schema=model.schema, identifier=target_table) -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(target) %}
  {% endif %}

  {{ run_hooks(pre_hooks) }}

  {% set strategy_macro = strategy_dispatch(strategy_name) %}
  {% set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], existing is not none) %}

  {% do spark_oss_prepare_versions(target) %}
  {%- set version = spark_oss_new_version(target) -%}
  {%- if existing is none -%}
    {%- set build_sql = build_snapshot_table(strategy, model['compiled_code']) -%}
  {%- else -%}
    {{ adapter.assert_valid_snapshot_target_given_strategy(existing, columns, strategy) }}
    {#-- A temporary view: evaluated inside the one CTAS below, against the published history. --#}
    {%- set staging_table = build_snapshot_staging_table(strategy, sql, existing) -%}
    {%- set build_sql = spark_oss_snapshot_merge_sql(existing, staging_table, strategy, columns) -%}
  {%- endif -%}
  {%- call statement('main') -%}
    {{ create_table_as(False, version, build_sql) }}
  {%- endcall -%}
  {%- if staging_table is defined -%}{% do post_snapshot(staging_table) %}{%- endif -%}
  {% do persist_docs(version, model) %}
  {%- set published = spark_oss_publish(target, version, existing) -%}

  {% do apply_grants(published, grant_config, should_revoke(existing, full_refresh_mode=False)) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [published]}) }}
{% endmaterialization %}


{#-- The SELECT of the new version: default__snapshot_merge_sql (dbt-core 1.11) as a query over
     the published history `existing` and the staging rows `staging`. Columns: the history's, in
     its order, then the staging columns it lacks (dbt's added columns); dbt's staging-only
     columns (dbt_change_type, dbt_unique_key, dbt_unique_key_<n>) are not part of the history.
     A history row matched by several staging rows (a unique_key that is not unique, which MERGE
     would reject) is kept once, closed at the earliest of their valid_to. --#}
{% macro spark_oss_snapshot_merge_sql(existing, staging, strategy, columns) %}
  {%- set internal = ['dbt_change_type', 'dbt_unique_key'] -%}
  {%- if strategy.unique_key | is_list -%}
    {%- for key in strategy.unique_key -%}{%- do internal.append('dbt_unique_key_' ~ loop.index) -%}{%- endfor -%}
  {%- endif -%}
  {%- set old_columns = adapter.get_columns_in_relation(existing) -%}
  {%- set new_columns = adapter.get_columns_in_relation(staging)
        | rejectattr('name', 'in', internal + (internal | map('upper') | list)) | list -%}
  {%- set old_names = old_columns | map(attribute='name') | map('lower') | list -%}
  {%- set new_names = new_columns | map(attribute='name') | map('lower') | list -%}
  {%- set dest = old_columns | list -%}
  {%- for column in new_columns if column.name | lower not in old_names -%}
    {%- do dest.append(column) -%}
  {%- endfor -%}
  {%- set scd_id = columns.dbt_scd_id -%}
  {%- set valid_to = columns.dbt_valid_to -%}
  {%- if config.get('dbt_valid_to_current') -%}
    {%- set dest_valid_to = ('DBT_INTERNAL_DEST.' ~ valid_to) | trim -%}
    {%- set is_current = '(' ~ equals(dest_valid_to, config.get('dbt_valid_to_current') | trim) ~ ' or ' ~ dest_valid_to ~ ' is null)' -%}
  {%- else -%}
    {%- set is_current = 'DBT_INTERNAL_DEST.' ~ valid_to ~ ' is null' -%}
  {%- endif %}
  select
    {%- for column in dest %}
      {%- if column.name | lower == valid_to | lower %}
    case when DBT_INTERNAL_SOURCE.{{ scd_id }} is not null
         then DBT_INTERNAL_SOURCE.{{ valid_to }}
         else DBT_INTERNAL_DEST.{{ valid_to }} end as {{ adapter.quote(column.name) }}
      {%- else %}
    {{ spark_oss_column_or_null(column, old_names, 'DBT_INTERNAL_DEST') }}
      {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ existing }} as DBT_INTERNAL_DEST
  left join (
    select {{ scd_id }}, min({{ valid_to }}) as {{ valid_to }}
    from {{ staging }}
    where dbt_change_type in ('update', 'delete')
    group by {{ scd_id }}
  ) as DBT_INTERNAL_SOURCE
    on DBT_INTERNAL_SOURCE.{{ scd_id }} = DBT_INTERNAL_DEST.{{ scd_id }}
    and {{ is_current }}
  union all
  select
    {%- for column in dest %}
    {{ spark_oss_column_or_null(column, new_names, 'DBT_INTERNAL_SOURCE') }}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ staging }} as DBT_INTERNAL_SOURCE
  where DBT_INTERNAL_SOURCE.dbt_change_type = 'insert'
    and not exists (
      select 1 from {{ existing }} as DBT_INTERNAL_DEST
      where DBT_INTERNAL_DEST.{{ scd_id }} = DBT_INTERNAL_SOURCE.{{ scd_id }}
    )
{% endmacro %}


{#-- dbt-core's contract for the get_columns_in_relation macro is a list of Columns (dbt-core's
     snapshot_staging_table reads `.name` of each, for the deletion rows of hard_deletes:
     new_record). dbt-spark 1.11's spark__get_columns_in_relation returns the raw `describe`
     rows instead, so those deletion rows get null in every source column (dbt-adapters#1401,
     dbt-databricks#1176). The adapter method returns Columns: use it, for every file format. --#}
{% macro spark_oss__get_columns_in_relation(relation) -%}
  {{ return(adapter.get_columns_in_relation(relation)) }}
{%- endmacro %}
