{#-- View materialization of the spark_oss adapter: an existing view is changed in place with
     `alter view ... as` (one metastore operation) instead of dbt-spark's `create or replace view`,
     which Spark runs as drop + create (readers can find no view in between).
     A model that was a table until now (its name a view over `<schema>_versions.<name>__v<id>`,
     publish.sql) becomes the view in that same operation; its versions, read by nothing from then
     on, are dropped right after it. --#}
{% materialization view, adapter='spark_oss' -%}
  {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set was_table = spark_oss_published(existing).version is not none -%}
  {%- if existing is none or not existing.is_view or config.persist_column_docs()
        or config.get('contract').enforced -%}
    {%- set result = create_or_replace_view() -%}
  {%- else -%}
    {{ run_hooks(pre_hooks) }}
    {%- call statement('main') -%}
      alter view {{ target }} as
      {{ compiled_code }}
    {%- endcall -%}
    {% do apply_grants(target, config.get('grants'), should_revoke(existing, full_refresh_mode=True)) %}
    {{ run_hooks(post_hooks) }}
    {%- set result = {'relations': [target]} -%}
  {%- endif -%}
  {%- if was_table -%}
    {%- for version in spark_oss_list_versions(target) -%}
      {% do adapter.drop_relation(version) %}
    {%- endfor -%}
  {%- endif -%}
  {{ return(result) }}
{%- endmaterialization %}
