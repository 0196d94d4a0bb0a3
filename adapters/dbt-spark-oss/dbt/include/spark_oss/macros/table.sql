{#-- Table materialization of the spark_oss adapter.
     SQL models: dbt-spark's own materialization, unchanged.
     Python models: built into a staging table, then swapped in (macros below). --#}
{% materialization table, adapter='spark_oss', supported_languages=['sql', 'python'] %}
  {%- if model['language'] != 'python' -%}
    {{ return(materialization_table_spark()) }}
  {%- endif -%}

  {%- set grant_config = config.get('grants') -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set target_relation = this.incorporate(type='table') -%}

  {{ run_hooks(pre_hooks) }}

  {%- set staging_relation = spark_oss_python_staging(target_relation) -%}
  {%- call statement('main', language='python') -%}
    {{ create_table_as(False, staging_relation, compiled_code, 'python') }}
  {%- endcall -%}
  {% do spark_oss_python_swap(staging_relation, target_relation, old_relation) %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {% do persist_constraints(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-- Python models are built into `<name>__dbt_new` (the `main` statement must be called from the
     materialization itself, dbt checks that); only when that succeeded does
     spark_oss_python_swap rename the previous relation to `<name>__dbt_backup`, the new table
     into place and drop the backup. A model that raises leaves the previous relation untouched. --#}
{% macro spark_oss_python_staging(target_relation) %}
  {%- set staging_relation = target_relation.incorporate(
        path={"identifier": target_relation.identifier ~ '__dbt_new'}, type='table') -%}
  {#-- leftovers of an interrupted run --#}
  {% do adapter.drop_relation(staging_relation) %}
  {% do adapter.drop_relation(spark_oss_python_backup(target_relation, 'table')) %}
  {% do adapter.drop_relation(spark_oss_python_backup(target_relation, 'view')) %}
  {{ return(staging_relation) }}
{% endmacro %}


{% macro spark_oss_python_backup(target_relation, relation_type) %}
  {{ return(target_relation.incorporate(
        path={"identifier": target_relation.identifier ~ '__dbt_backup'}, type=relation_type)) }}
{% endmacro %}


{% macro spark_oss_python_swap(staging_relation, target_relation, old_relation) %}
  {% if old_relation is not none %}
    {% set backup_relation = spark_oss_python_backup(target_relation, old_relation.type) %}
    {% do adapter.rename_relation(old_relation, backup_relation) %}
  {% endif %}
  {% do adapter.rename_relation(staging_relation, target_relation) %}
  {% if old_relation is not none %}
    {% do adapter.drop_relation(backup_relation) %}
  {% endif %}
{% endmacro %}
