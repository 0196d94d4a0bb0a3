{#-- persist_docs column comments on every file format. dbt-spark writes them only on delta, hudi
     and iceberg, one `alter table ... change column ... comment` per column (a metastore write
     each, about 70 ms). Here:
     - A version built from SQL (SQL models, snapshots, clones, and every incremental run after a
       model's first) is created with them: the query is wrapped in a session-local temporary view
       whose column list carries the descriptions, and CTAS keeps a view's column comments
       (partition columns included). No metastore write per column.
     - What is still missing afterwards (a Python model's DataFrame written by saveAsTable, a
       seed) gets one `alter ... change column` per column; Spark refuses to alter a partition
       column, so those keep their description in the docs site only.
     - Views get the same column list in their `create or replace view`.
     Either way the comments are on the new version before it is published, and the published
     view (`select *` over the version) shows them, so `describe` through the Thrift Server
     lists them. --#}

{#-- The descriptions persist_docs writes as column comments, by lower-case column name ({} when
     the model does not ask for column docs). --#}
{% macro spark_oss_column_docs() %}
  {%- if model is not defined or not model or not config.persist_column_docs() -%}
    {{ return({}) }}
  {%- endif -%}
  {%- set docs = {} -%}
  {%- for name, column in (model.columns or {}).items() if column.description -%}
    {%- do docs.update({name | lower: column.description}) -%}
  {%- endfor -%}
  {{ return(docs) }}
{% endmacro %}


{#-- A session-local temporary view of `version`'s build: named after the version (unique per
     build, so two models of one alias in two schemas never share it), and dropped once the
     version's create has run (spark_oss__persist_docs). --#}
{% macro spark_oss_version_temporary_view(version, purpose) %}
  {%- set view = api.Relation.create(identifier=version.identifier ~ '__' ~ purpose, type='view')
        .include(database=false, schema=false) -%}
  {%- set key = 'temporary views of ' ~ version -%}
  {% do adapter.spark_oss_remember(key, ((adapter.spark_oss_recall(key) or '') ~ ' ' ~ view) | trim) %}
  {{ return(view) }}
{% endmacro %}


{#-- A version's query as a temporary view that keeps its analysed plan. A temporary view created
     in SQL keeps only its text, and each statement that reads it analyses the whole query again:
     the contract's column check, the docs' view and the create were three full analyses of the
     model's query, each resolving every view and table it reads in the metastore. With the plan
     kept (adapter.spark_oss_create_keeping_plan) the query is analysed once, here, and its
     readers only add their own projection. It is read only within the build, so it cannot
     miss a change of what it reads. --#}
{% macro spark_oss_query_view(version, sql) %}
  {%- set view = spark_oss_version_temporary_view(version, 'query') -%}
  {% do adapter.spark_oss_create_keeping_plan('create or replace temporary view ' ~ view ~ ' as\n' ~ sql) %}
  {{ return(view) }}
{% endmacro %}


{#-- The column list of a view of a query with `query_columns`, each documented column with its
     description as the comment (matched case-insensitively, as Spark matches names). The one
     rule for views and for the versions' temporary views. --#}
{% macro spark_oss_documented_column_list(query_columns) %}
  {%- set docs = spark_oss_column_docs() -%}
  {%- set items = [] -%}
  {%- for name in query_columns -%}
    {%- set description = docs.get(name | lower) -%}
    {%- do items.append('`' ~ name | replace('`', '``') ~ '`'
          ~ (' comment ' ~ spark_oss_string_literal(description) if description else '')) -%}
  {%- endfor -%}
  {{ return('(' ~ items | join(', ') ~ ')') }}
{% endmacro %}


{#-- `sql` as the query of `version`'s `create table ... as`: when the model documents columns,
     `select *` over a temporary view of `sql` whose column list carries the descriptions as
     comments. `columns`: the names of `sql`'s columns in order when the caller knows them (an
     enforced contract's), else the query is asked. --#}
{% macro spark_oss_sql_with_column_docs(version, sql, columns=none) %}
  {%- if not spark_oss_column_docs() -%}{{ return(sql) }}{%- endif -%}
  {%- set view = spark_oss_version_temporary_view(version, 'column_docs') -%}
  {%- call statement('spark_oss_column_docs') -%}
    create or replace temporary view {{ view }}
    {{ spark_oss_documented_column_list(columns if columns is not none else get_columns_in_query(sql)) }}
    as
    {{ sql }}
  {%- endcall -%}
  {{ return('select * from ' ~ view ~ ' /* ' ~ view ~ ": a temporary view of this model's compiled "
        ~ 'SQL, its column list carrying the column descriptions (persist_docs) */') }}
{% endmacro %}


{#-- Views document their columns with the same rule (dbt-spark's create_view_as otherwise). --#}
{% macro spark_oss__create_view_as(relation, sql) -%}
  create or replace view {{ relation }}
  {% if spark_oss_column_docs() -%}
    {{ spark_oss_documented_column_list(get_columns_in_query(sql)) }}
  {%- endif %}
  {{ comment_clause() }}
  {%- set contract_config = config.get('contract') -%}
  {%- if contract_config.enforced -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif %}
  as
    {{ sql }}
{%- endmacro %}


{% macro spark_oss__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- if config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ return(spark__persist_docs(relation, model, for_relation, for_columns)) }}
  {%- endif -%}
  {#- The create has run: the temporary views it read are not needed any more. -#}
  {%- for view in (adapter.spark_oss_recall('temporary views of ' ~ relation) or '').split() -%}
    {%- call statement('spark_oss_drop_temporary_view') -%}
      drop view if exists {{ view }}
    {%- endcall -%}
  {%- endfor -%}
  {%- set docs = spark_oss_column_docs() if for_columns else {} -%}
  {%- if not docs -%}{{ return(none) }}{%- endif -%}
  {#- What the version's columns carry now, in table order. -#}
  {%- set described = adapter.spark_oss_described(run_query('describe table ' ~ relation)) -%}
  {%- set names = described.columns.keys() | list -%}
  {%- set comments = {} -%}
  {%- for name, comment in described.columns.items() -%}
    {%- do comments.update({name | lower: comment}) -%}
  {%- endfor -%}
  {%- set missing = {} -%}
  {%- for name, column in validate_doc_columns(relation, model.columns, names).items()
        if column.description and comments.get(name | lower) != column.description -%}
    {%- do missing.update({name: column}) -%}
  {%- endfor -%}
  {%- if missing -%}{% do alter_column_comment(relation, missing) %}{%- endif -%}
{%- endmacro %}


{#-- One `alter table ... change column ... comment` per column (partition columns skipped). --#}
{% macro spark_oss__alter_column_comment(relation, column_dict) %}
  {%- if config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ return(spark__alter_column_comment(relation, column_dict)) }}
  {%- endif -%}
  {%- set partition_by = config.get('partition_by') or [] -%}
  {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
  {%- set partition_columns = partition_by | map('lower') | list -%}
  {%- for column_name, column in column_dict.items()
        if column.description and column_name | lower not in partition_columns -%}
    {%- call statement('spark_oss_column_comment') -%}
      alter table {{ relation }} change column
        {{ adapter.quote(column_name) if column.quote else column_name }}
        comment {{ spark_oss_string_literal(column.description) }}
    {%- endcall -%}
  {%- endfor -%}
{% endmacro %}


{#-- `text` as a Spark SQL string literal (backslashes and quotes escaped). --#}
{% macro spark_oss_string_literal(text) -%}
  '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
