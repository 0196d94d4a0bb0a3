{#-- Table materialization of the spark_oss adapter, SQL and Python models alike.
     On delta/iceberg/hudi, dbt-spark's own (`create or replace table` is atomic there).
     On every other format (parquet, orc, ...): a new version built in a fresh directory and
     published in one metastore operation (publish.sql); a failing or killed build leaves the
     published version untouched. --#}
{% materialization table, adapter='spark_oss', supported_languages=['sql', 'python'] %}
  {%- if config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
    {{ return(materialization_table_spark()) }}
  {%- endif -%}

  {%- set language = model['language'] -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set target = this.incorporate(type='view') -%}

  {{ run_hooks(pre_hooks) }}

  {% do spark_oss_prepare_versions(target) %}
  {%- set version = spark_oss_new_version(target) -%}
  {%- if language == 'python' -%}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, version, compiled_code, language) }}
    {%- endcall -%}
  {%- endif -%}
  {% do spark_oss_checked_version(version, compiled_code, language) %}
  {% do persist_docs(version, model) %}
  {%- set published = spark_oss_publish(target, version, existing) -%}

  {% do apply_grants(published, grant_config, should_revoke(existing, full_refresh_mode=True)) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [published]}) }}
{% endmaterialization %}
