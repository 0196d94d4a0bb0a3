{#-- Seed materialization of the spark_oss adapter: every `dbt seed` loads the CSV into a new
     version and publishes it in one metastore operation (publish.sql), like a table model; the
     rows are loaded in batches of get_batch_size() before anything is visible. On delta/iceberg/
     hudi, dbt's default seed materialization. --#}
{% materialization seed, adapter='spark_oss' %}
  {%- if config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
    {{ return(materialization_seed_default()) }}
  {%- endif -%}

  {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set target = this.incorporate(type='view') -%}
  {%- set agate_table = load_agate_table() -%}
  {%- do store_result('agate_table', response='OK', agate_table=agate_table) -%}

  {{ run_hooks(pre_hooks) }}

  {% do spark_oss_prepare_versions(target) %}
  {%- set version = spark_oss_new_version(target) -%}
  {%- set create_sql = spark_oss_create_seed_version(version, agate_table) -%}
  {%- set rows_affected = agate_table.rows | length -%}
  {%- set insert_sql = spark_oss_load_seed_rows(version, agate_table) if rows_affected > 0 else '' -%}
  {% call noop_statement('main', 'INSERT ' ~ rows_affected, 'INSERT', rows_affected) %}
    {{ get_csv_sql(create_sql, insert_sql) }};
  {% endcall %}
  {% do persist_docs(version, model) %}
  {%- set published = spark_oss_publish(target, version, existing) -%}

  {% do apply_grants(published, config.get('grants'), should_revoke(existing, full_refresh_mode=True)) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [published]}) }}
{% endmaterialization %}


{#-- spark__create_csv_table of dbt-spark 1.11.0 (macros/materializations/seed.sql), writing into
     `relation` instead of `this`. --#}
{% macro spark_oss_create_seed_version(relation, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set sql %}
    create table {{ relation }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = column_override.get(col_name, inferred_type) -%}
            {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ comment_clause() }}
  {% endset %}
  {% call statement('_') -%}{{ sql }}{%- endcall %}
  {{ return(sql) }}
{% endmacro %}


{#-- spark__load_csv_rows of dbt-spark 1.11.0, inserting into `relation` instead of `this`. --#}
{% macro spark_oss_load_seed_rows(relation, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
    {% set bindings = [] %}
    {% for row in chunk %}{% do bindings.extend(row) %}{% endfor %}
    {% set sql %}
      insert into {{ relation }} values
      {% for row in chunk -%}
        ({%- for col_name in agate_table.column_names -%}
          {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
          {%- set type = column_override.get(col_name, inferred_type) -%}
          cast({{ get_binding_char() }} as {{ type }})
          {%- if not loop.last %},{%- endif %}
        {%- endfor -%})
        {%- if not loop.last %},{%- endif %}
      {%- endfor %}
    {% endset %}
    {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}
    {% if loop.index0 == 0 %}{% do statements.append(sql) %}{% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}
