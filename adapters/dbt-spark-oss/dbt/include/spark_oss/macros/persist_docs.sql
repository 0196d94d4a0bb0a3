{#-- persist_docs column comments on every file format. dbt-spark writes them only on delta, hudi
     and iceberg, one `alter table ... change column ... comment` per column (a metastore write
     each, about 70 ms). Here:
     - SQL models: the version's `create table ... as select` writes them itself. The query is
       wrapped in a session-local temporary view whose column list carries the descriptions, and
       CTAS keeps a view's column comments (partition columns included). No metastore write.
     - What is still missing afterwards (Python models: their DataFrame is written by
       saveAsTable) gets one `alter ... change column` per column; Spark refuses to alter a
       partition column, so a Python model's partition columns keep their description in the
       docs site only.
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


{#-- The session-local view that carries the model's column docs, one per model (re-created by each
     build, dropped by persist_docs once the version is written). --#}
{% macro spark_oss_column_docs_view() %}
  {{ return(api.Relation.create(identifier=this.identifier ~ '__column_docs', type='view')
        .include(database=false, schema=false)) }}
{% endmacro %}


{#-- `sql` as the query of a version's `create table ... as`: when the model documents columns,
     `select *` over a temporary view of `sql` whose column list carries the descriptions as
     comments (the columns' names and order are the query's own, from `describe query`). --#}
{% macro spark_oss_sql_with_column_docs(sql) %}
  {%- set docs = spark_oss_column_docs() -%}
  {%- if not docs -%}{{ return(sql) }}{%- endif -%}
  {%- set columns = run_query('describe query ' ~ sql).columns[0].values() -%}
  {%- set view = spark_oss_column_docs_view() -%}
  {%- call statement('spark_oss_column_docs') -%}
    create or replace temporary view {{ view }} (
      {%- for name in columns %}
      `{{ name | replace('`', '``') }}`
      {%- if docs.get(name | lower) %} comment {{ spark_oss_string_literal(docs[name | lower]) }}{% endif %}
      {{- ',' if not loop.last }}
      {%- endfor %}
    ) as
    {{ sql }}
  {%- endcall -%}
  {{ return('select * from ' ~ view ~ ' /* ' ~ model.unique_id ~ ', its columns documented (persist_docs) */') }}
{% endmacro %}


{% macro spark_oss__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- if config.get('file_format', 'parquet') in ['delta', 'hudi', 'iceberg'] -%}
    {{ return(spark__persist_docs(relation, model, for_relation, for_columns)) }}
  {%- endif -%}
  {%- set docs = spark_oss_column_docs() if for_columns else {} -%}
  {%- if not docs -%}{{ return(none) }}{%- endif -%}
  {%- call statement('spark_oss_drop_column_docs') -%}
    drop view if exists {{ spark_oss_column_docs_view() }}
  {%- endcall -%}
  {#- What the version's columns carry now: [name, comment] in table order, until the first
      blank or `#` row (partition information follows). -#}
  {%- set described = run_query('describe table ' ~ relation) -%}
  {%- set names = [] -%}
  {%- set comments = {} -%}
  {%- set scan = namespace(done=false) -%}
  {%- for row in described.rows -%}
    {%- set scan.done = scan.done or not row[0] or (row[0] | string).startswith('#') -%}
    {%- if not scan.done -%}
      {%- do names.append(row[0]) -%}
      {%- do comments.update({row[0] | lower: row[2]}) -%}
    {%- endif -%}
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
