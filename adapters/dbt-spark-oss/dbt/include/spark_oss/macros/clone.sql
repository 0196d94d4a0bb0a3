{#-- `dbt clone` on plain Parquet. dbt-spark's clone needs Delta's `shallow clone` and fails on any
     other format; here a model is cloned from the --state relation in one of two ways, chosen by
     config `clone_strategy`, else var `clone_strategy` (dbt gives the model `select * from <state
     relation>` as its code):
       view (default): `<schema>.<name>` becomes a view over the state relation: instant, no data
                       copied, always shows what the state environment publishes now;
       copy:           a new version is written from the state relation and published like a
                       table build (publish.sql): a snapshot of the state's data at clone time,
                       independent of later builds there, safe to build on and to change.
     As in dbt, an existing relation is kept unless --full-refresh. --#}
{% materialization clone, adapter='spark_oss' %}
  {%- if config.get('file_format', 'parquet') == 'delta' -%}
    {{ return(materialization_clone_spark()) }}
  {%- endif -%}
  {%- if not defer_relation -%}
    {{ log("No relation found in state manifest for " ~ model.unique_id, info=True) }}
    {{ return({'relations': []}) }}
  {%- endif -%}
  {%- set existing = load_cached_relation(this) -%}
  {%- if existing and not flags.FULL_REFRESH -%}
    {{ log("Relation " ~ existing ~ " already exists", info=True) }}
    {{ return({'relations': []}) }}
  {%- endif -%}

  {%- set strategy = config.get('clone_strategy') or var('clone_strategy', 'view') -%}
  {%- if strategy == 'view' -%}
    {{ return(materialization_view_spark_oss()) }}
  {%- elif strategy != 'copy' -%}
    {% do exceptions.raise_compiler_error("clone_strategy must be 'view' or 'copy' (got '"
          ~ strategy ~ "') in " ~ model.unique_id) %}
  {%- endif -%}

  {%- set target = this.incorporate(type='view') -%}
  {% do spark_oss_prepare_versions(target) %}
  {%- set version = spark_oss_new_version(target) -%}
  {%- call statement('main') -%}
    {{ create_table_as(False, version, compiled_code, 'sql') }}
  {%- endcall -%}
  {% do persist_docs(version, model) %}
  {%- set published = spark_oss_publish(target, version, existing) -%}
  {% do apply_grants(published, config.get('grants'), should_revoke(existing, full_refresh_mode=True)) %}
  {{ return({'relations': [published]}) }}
{% endmaterialization %}
