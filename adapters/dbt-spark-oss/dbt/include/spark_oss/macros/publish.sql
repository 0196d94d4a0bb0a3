{#-- Crash-safe publishing on plain Parquet + a Hive metastore (docs/reliability.md).

     Every build of a table-like model (table, incremental, seed) writes a complete new VERSION:
     a managed table `<schema>_versions.<name>__v<timestamp>` in a fresh directory. The name users
     and `ref()` read, `<schema>.<name>`, is a view over the current version, and a build becomes
     visible in ONE metastore operation: `alter view <schema>.<name> as select * from <version>`
     (a single alterTable call, which also carries schema changes). Until then readers keep
     reading the previous version, unchanged; afterwards the current version, the one it
     replaced and (keep_versions > 2) the next newest are kept, the rest dropped
     (spark_oss_expire_versions). A build killed at any point leaves
     at most an unreferenced version, which the next build ignores and the clean-up removes. --#}

{% macro spark_oss_versions_schema(relation) %}
  {{ return(relation.schema ~ '_versions') }}
{% endmacro %}


{#-- A new, never-used version of `relation`: ids are UTC timestamps (sortable, unique per build). --#}
{% macro spark_oss_new_version(relation) %}
  {%- set version_id = modules.datetime.datetime.utcnow().strftime('%Y%m%d%H%M%S%f') -%}
  {{ return(api.Relation.create(
        database=relation.database,
        schema=spark_oss_versions_schema(relation),
        identifier=relation.identifier ~ '__v' ~ version_id,
        type='table')) }}
{% endmacro %}


{% macro spark_oss_version_pattern(relation) %}
  {{ return('^' ~ relation.identifier | lower ~ '__v[0-9]{20}$') }}
{% endmacro %}


{#-- The versions of `relation` present in the metastore, newest first. --#}
{% macro spark_oss_list_versions(relation) %}
  {%- set versions_schema = spark_oss_versions_schema(relation) -%}
  {%- call statement('spark_oss_list_versions', fetch_result=True) -%}
    show tables in {{ versions_schema }} like '{{ relation.identifier | lower }}__v*'
  {%- endcall -%}
  {%- set pattern = spark_oss_version_pattern(relation) -%}
  {%- set names = [] -%}
  {%- for row in load_result('spark_oss_list_versions').table -%}
    {%- if modules.re.match(pattern, row[1]) -%}{%- do names.append(row[1]) -%}{%- endif -%}
  {%- endfor -%}
  {%- set versions = [] -%}
  {%- for name in names | sort(reverse=true) -%}
    {%- do versions.append(api.Relation.create(
          database=relation.database, schema=versions_schema, identifier=name, type='table')) -%}
  {%- endfor -%}
  {{ return(versions) }}
{% endmacro %}


{#-- What the published view shows now: {'version': the version it reads, or none (not published,
     or not a view), 'comment': its comment, or none}. One `describe`. --#}
{% macro spark_oss_published(relation) %}
  {%- set published = {'version': none, 'comment': none} -%}
  {%- if relation is none or not relation.is_view -%}{{ return(published) }}{%- endif -%}
  {%- call statement('spark_oss_view_text', fetch_result=True) -%}
    describe table extended {{ relation }}
  {%- endcall -%}
  {%- set details = adapter.spark_oss_described(load_result('spark_oss_view_text').table).details -%}
  {%- set pattern = spark_oss_versions_schema(relation) | lower ~ '`?\\.`?(' ~ relation.identifier | lower ~ '__v[0-9]{20})' -%}
  {%- set match = modules.re.search(pattern, (details.get('View Text') or '') | lower) -%}
  {%- if match -%}
    {%- do published.update({'version': api.Relation.create(database=relation.database,
          schema=spark_oss_versions_schema(relation), identifier=match.group(1), type='table')}) -%}
  {%- endif -%}
  {%- do published.update({'comment': details.get('Comment')}) -%}
  {{ return(published) }}
{% endmacro %}


{#-- The relation comment persist_docs asks for (dbt-spark's comment_clause), or none. --#}
{% macro spark_oss_docs_comment() %}
  {%- set persist = config.get('persist_docs', {}) -%}
  {{ return(model.description if persist is mapping and persist.get('relation', false) else none) }}
{% endmacro %}


{#-- The versions schema is created by the first build of the invocation that needs it. --#}
{% macro spark_oss_prepare_versions(relation) %}
  {%- set versions_schema = spark_oss_versions_schema(relation) -%}
  {%- if adapter.spark_oss_recall('schema exists: ' ~ versions_schema | lower) is none -%}
    {% do adapter.create_schema(api.Relation.create(database=relation.database, schema=versions_schema)) %}
    {% do adapter.spark_oss_remember('schema exists: ' ~ versions_schema | lower, 'yes') %}
  {%- endif -%}
  {% do spark_oss_fault_point('before_build') %}
{% endmacro %}


{#-- Makes `version` what `<schema>.<name>` reads, in one metastore operation. `existing` is the
     relation found under the published name before the build (none, a view, or a table built
     before versioned publishing: that one-time migration renames it aside first). --#}
{% macro spark_oss_publish(target, version, existing) %}
  {% do spark_oss_fault_point('before_publish') %}
  {%- set view = target.incorporate(type='view') -%}
  {%- set published = spark_oss_published(existing) -%}
  {%- set previous = published.version -%}
  {%- set legacy = none -%}
  {%- if existing is not none and not existing.is_view -%}
    {%- set legacy = target.incorporate(path={'identifier': target.identifier ~ '__pre_versioning'}, type=existing.type) -%}
    {% do adapter.drop_relation(legacy) %}
    {% do adapter.rename_relation(existing, legacy) %}
  {%- endif -%}
  {%- set replace = existing is not none and legacy is none -%}
  {%- call statement('spark_oss_publish') -%}
    {% if replace %}alter view {{ view }}{% else %}create view {{ view }} {{ comment_clause() }}{% endif %}
    as select * from {{ version }}
  {%- endcall -%}
  {%- set comment = spark_oss_docs_comment() -%}
  {%- if replace and comment is not none and comment | trim != (published.comment or '') | trim -%}
    {#- `alter view ... as` keeps the view's comment: a changed description is set here. -#}
    {%- call statement('spark_oss_view_comment') -%}
      alter view {{ view }} set tblproperties ('comment' = {{ spark_oss_string_literal(comment) }})
    {%- endcall -%}
  {%- endif -%}
  {%- if legacy is not none -%}{% do adapter.drop_relation(legacy) %}{%- endif -%}
  {% do adapter.cache_added(view) if not replace %}
  {% do spark_oss_fault_point('after_publish') %}
  {% do spark_oss_expire_versions(view, version, previous) %}
  {{ return(view) }}
{% endmacro %}


{#-- Drops old versions: keeps the current one, the one it replaced (`previous`, the rollback
     target) and, with keep_versions > 2, the next newest; drops the rest, including versions of
     killed builds that were never published. --#}
{% macro spark_oss_expire_versions(relation, current, previous) %}
  {%- set keep = config.get('keep_versions', 2) | int -%}
  {%- if keep < 1 -%}
    {% do exceptions.raise_compiler_error("keep_versions must be at least 1 (got " ~ keep ~ ") in " ~ model.unique_id) %}
  {%- endif -%}
  {%- set kept = [current.identifier] -%}
  {%- if previous is not none and keep > 1 -%}{%- do kept.append(previous.identifier) -%}{%- endif -%}
  {%- for version in spark_oss_list_versions(relation) -%}
    {%- if version.identifier not in kept and kept | length < keep
          and version.identifier < current.identifier -%}
      {%- do kept.append(version.identifier) -%}
    {%- elif version.identifier not in kept -%}
      {% do adapter.drop_relation(version) %}
    {%- endif -%}
  {%- endfor -%}
  {#- `kept` is what remains in the catalog: no second listing needed. -#}
  {% do spark_oss_remove_orphan_directories(relation, kept) %}
{% endmacro %}


{#-- Deletes the directories of `relation`'s versions that no catalog table owns (what killed
     builds leave), on the embedded target. `kept`: its versions left in the catalog. --#}
{% macro spark_oss_remove_orphan_directories(relation, kept) %}
  {%- if target.type == 'spark_oss' and target.method == 'session' -%}
    {% do adapter.spark_oss_remove_orphan_versions(
          spark_oss_schema_location(spark_oss_versions_schema(relation)), relation.identifier, kept) %}
  {%- endif -%}
{% endmacro %}


{#-- The tables of a versions schema, lower-case ([] when it does not exist), listed once per
     invocation: view builds look there for the versions their model left as a table (a model is
     a view or a table for a whole invocation, so no build of it adds any meanwhile). --#}
{% macro spark_oss_versions_listing(versions_schema) %}
  {%- set fact = 'tables in: ' ~ versions_schema | lower -%}
  {%- set known = adapter.spark_oss_recall(fact) -%}
  {%- if known is none -%}
    {%- set names = [] -%}
    {%- if run_query("show schemas like '" ~ versions_schema ~ "'").rows | length > 0 -%}
      {%- for row in run_query('show tables in ' ~ versions_schema).rows if not row[2] -%}
        {%- do names.append(row[1] | lower) -%}
      {%- endfor -%}
    {%- endif -%}
    {%- set known = names | join(' ') -%}
    {% do adapter.spark_oss_remember(fact, known) %}
  {%- endif -%}
  {{ return(known.split()) }}
{% endmacro %}


{#-- A schema's location, asked once per invocation. --#}
{% macro spark_oss_schema_location(schema_name) %}
  {%- set fact = 'schema location: ' ~ schema_name | lower -%}
  {%- set known = adapter.spark_oss_recall(fact) -%}
  {%- if known is not none -%}{{ return(known) }}{%- endif -%}
  {%- call statement('spark_oss_schema_location', fetch_result=True) -%}
    describe schema {{ schema_name }}
  {%- endcall -%}
  {%- set location = [''] -%}
  {%- for row in load_result('spark_oss_schema_location').table if row[0] | lower == 'location' -%}
    {%- do location.append(row[1] | string) -%}
  {%- endfor -%}
  {% do adapter.spark_oss_remember(fact, location | last) %}
  {{ return(location | last) }}
{% endmacro %}


{#-- Test hook: `SPARK_OSS_FAULT_POINT=<point>` makes the dbt process kill itself there (SIGKILL), so
     the fault suite can stop a build at an exact point. A no-op otherwise. --#}
{% macro spark_oss_fault_point(point) %}
  {% do adapter.spark_oss_fault_point(point, model.unique_id if model is defined and model else '') %}
{% endmacro %}
