{#-- View materialization of the spark_oss adapter: an existing view is changed in place with
     `alter view ... as` (one metastore operation) instead of dbt-spark's `create or replace view`,
     which Spark runs as drop + create (readers can find no view in between); a view with an
     enforced contract or documented columns still goes through the latter.
     A model that was a table (published as a view over `<schema>_versions.<name>__v<id>`,
     publish.sql) leaves versions behind. Its view builds drop them, except the one the flip
     replaced, which stays one more build as the rollback target and for readers still scanning
     it, the same rule as spark_oss_expire_versions. The versions are found by listing the
     versions schema (once per invocation), so a build killed before its drops is finished by
     the next. --#}
{% materialization view, adapter='spark_oss' -%}
  {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set relation = this.incorporate(type='view') -%}
  {%- set versions_schema = spark_oss_versions_schema(relation) -%}
  {%- set pattern = spark_oss_version_pattern(relation) -%}
  {%- set leftovers = [] -%}
  {%- for name in spark_oss_versions_listing(versions_schema) if modules.re.match(pattern, name) -%}
    {%- do leftovers.append(name) -%}
  {%- endfor -%}
  {%- set replaced = spark_oss_published(existing).version if leftovers else none -%}

  {%- if existing is none or not existing.is_view or config.persist_column_docs()
        or config.get('contract').enforced -%}
    {%- set result = create_or_replace_view() -%}
  {%- else -%}
    {{ run_hooks(pre_hooks) }}
    {%- call statement('main') -%}
      alter view {{ relation }} as
      {{ compiled_code }}
    {%- endcall -%}
    {% do apply_grants(relation, config.get('grants'), should_revoke(existing, full_refresh_mode=True)) %}
    {{ run_hooks(post_hooks) }}
    {%- set result = {'relations': [relation]} -%}
  {%- endif -%}

  {%- if leftovers -%}
    {%- set kept = [replaced.identifier | lower] if replaced is not none else [] -%}
    {%- for name in leftovers if name not in kept -%}
      {% do adapter.drop_relation(api.Relation.create(database=relation.database,
            schema=versions_schema, identifier=name, type='table')) %}
    {%- endfor -%}
    {% do spark_oss_remove_orphan_directories(relation, kept) %}
  {%- endif -%}
  {{ return(result) }}
{%- endmaterialization %}
