{#-- Table materialization of the spark_oss adapter.
     SQL models: dbt-spark's own materialization, unchanged.
     Python models: the model writes a staging table first; only when it succeeded is the previous
     table swapped out (rename to a backup, rename staging into place, drop the backup), so a
     failing model leaves the previous version of its table untouched. --#}
{% materialization table, adapter='spark_oss', supported_languages=['sql', 'python'] %}
  {%- if model['language'] != 'python' -%}
    {{ return(materialization_table_spark()) }}
  {%- endif -%}

  {%- set identifier = model['alias'] -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
  {%- set target_relation = api.Relation.create(identifier=identifier, schema=schema,
                                                database=database, type='table') -%}
  {%- set staging_relation = api.Relation.create(identifier=identifier ~ '__dbt_new', schema=schema,
                                                 database=database, type='table') -%}
  {%- set backup_relation = api.Relation.create(identifier=identifier ~ '__dbt_backup', schema=schema,
                                                database=database, type='table') -%}

  {{ run_hooks(pre_hooks) }}

  {#-- leftovers of an interrupted run --#}
  {% do adapter.drop_relation(staging_relation) %}
  {% do adapter.drop_relation(backup_relation) %}

  {%- call statement('main', language='python') -%}
    {{ create_table_as(False, staging_relation, compiled_code, 'python') }}
  {%- endcall -%}

  {% if old_relation is not none %}
    {% do adapter.rename_relation(old_relation, backup_relation.incorporate(type=old_relation.type)) %}
  {% endif %}
  {% do adapter.rename_relation(staging_relation, target_relation) %}
  {% if old_relation is not none %}
    {% do adapter.drop_relation(backup_relation.incorporate(type=old_relation.type)) %}
  {% endif %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {% do persist_constraints(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
