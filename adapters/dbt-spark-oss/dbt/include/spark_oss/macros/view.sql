{#-- View materialization of the spark_oss adapter: an existing view is changed in place with
     `alter view ... as` (one metastore operation) instead of dbt-spark's `create or replace view`,
     which Spark runs as drop + create (readers can find no view in between). --#}
{% materialization view, adapter='spark_oss' -%}
  {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- if existing is none or not existing.is_view or config.persist_column_docs()
        or config.get('contract').enforced -%}
    {{ return(create_or_replace_view()) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks) }}
  {%- call statement('main') -%}
    alter view {{ target }} as
    {{ compiled_code }}
  {%- endcall -%}
  {% do apply_grants(target, config.get('grants'), should_revoke(existing, full_refresh_mode=True)) %}
  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target]}) }}
{%- endmaterialization %}
