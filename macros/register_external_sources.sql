{#
    Registers every source that has `meta.external` as a Spark table over its files, so SQL
    models read CSV, JSON and Parquet with `source()` like any table.

    meta.external:
      location: path of a file or directory (any Hadoop path: local, s3a://, hdfs://)
      format:   csv | json | parquet (anything Spark reads)
      options:  reader options, merged over the per-format defaults below
      infer_schema: true -> let Spark infer the schema instead of the declared columns (the
                    declared columns are then selected from it, and malformed lines cannot
                    be kept: Spark drops nothing, but fills unparseable fields with null)

    CSV and JSON are read with the declared columns (all strings: casting is staging's job) plus
    `_corrupt_record`, so malformed lines are kept and quarantined rather than dropped. Formats
    without a corrupt-record column (Parquet) are registered as `<name>__files` with a view
    `<name>` on top that has the same string columns, so staging is identical for every format.
    Re-registering drops and recreates the table definitions (the files are never touched), so
    a changed path or format takes effect on the next run.
#}
{% macro register_external_sources() %}
    {%- if execute -%}
        {%- set needed = sources_needed_by_selection() -%}
        {%- for node in graph.sources.values() if node.unique_id in needed -%}
            {%- if node.meta.get('external') -%}
                {%- do register_external_source(node) -%}
            {%- elif node.meta.get('create_if_missing') -%}
                {%- do create_source_table_if_missing(node) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}


{#- The sources that this invocation's selected nodes read (all of them when nothing is
    selected, e.g. in run-operation), so `dbt build -s events` does not need the raw files. -#}
{% macro sources_needed_by_selection() %}
    {%- set all_sources = graph.sources.keys() | list -%}
    {%- if selected_resources is not defined or not selected_resources -%}
        {{ return(all_sources) }}
    {%- endif -%}
    {%- set needed = [] -%}
    {%- for unique_id in selected_resources -%}
        {%- if unique_id in all_sources -%}
            {%- do needed.append(unique_id) -%}
        {%- endif -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node -%}
            {%- for parent in node.depends_on.nodes if parent in all_sources -%}
                {%- do needed.append(parent) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(needed | unique | list) }}
{% endmacro %}


{% macro register_external_source(node) %}
    {%- set external = node.meta['external'] -%}
    {%- set file_format = external.get('format', 'csv') | lower -%}
    {%- set location = external['location'] -%}
    {%- set infer_schema = external.get('infer_schema', false) | string | lower == 'true' -%}
    {#- An inferred schema has no corrupt-record column: read like Parquet, through the view. -#}
    {%- set keeps_corrupt_records = file_format in ('csv', 'json') and not infer_schema -%}
    {%- set defaults = {
        'csv': {'header': 'true', 'mode': 'PERMISSIVE', 'columnNameOfCorruptRecord': '_corrupt_record'},
        'json': {'mode': 'PERMISSIVE', 'columnNameOfCorruptRecord': '_corrupt_record'},
    }.get(file_format, {}) -%}
    {%- set options = {} -%}
    {%- do options.update(defaults) -%}
    {%- do options.update(external.get('options', {})) -%}
    {%- do options.update({'path': location}) -%}
    {%- if infer_schema and file_format == 'csv' -%}
        {%- do options.update({'inferSchema': 'true'}) -%}
    {%- endif -%}

    {%- set schema_name = node.schema -%}
    {%- set files_table = node.identifier if keeps_corrupt_records else node.identifier ~ '__files' -%}
    {%- set declared_columns = node.columns.values() | list -%}

    {%- call statement('create_raw_schema') -%}
        create schema if not exists {{ schema_name }}
    {%- endcall -%}
    {#- Drop what is there, whatever its type (a format change turns a view into a table). -#}
    {%- for identifier in [node.identifier, files_table] | unique -%}
        {%- set existing = adapter.get_relation(database=none, schema=schema_name, identifier=identifier) -%}
        {%- if existing is not none -%}
            {%- do adapter.drop_relation(existing) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- call statement('create_source_table') -%}
        create table {{ schema_name }}.{{ files_table }}
        {%- if keeps_corrupt_records and declared_columns %}
        (
            {%- for column in declared_columns %}
            `{{ column.name }}` {{ column.data_type or 'string' }},
            {%- endfor %}
            `_corrupt_record` string
        )
        {%- endif %}
        using {{ file_format }}
        options (
            {%- for key, value in options.items() %}
            '{{ key }}' = '{{ value | replace("'", "\\'") }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
    {%- endcall -%}
    {%- if not keeps_corrupt_records -%}
        {%- call statement('create_source_view') -%}
            create view {{ schema_name }}.{{ node.identifier }} as
            select
                {%- for column in declared_columns %}
                cast(`{{ column.name }}` as {{ column.data_type or 'string' }}) as `{{ column.name }}`,
                {%- endfor %}
                cast(null as string) as `_corrupt_record`
            from {{ schema_name }}.{{ files_table }}
        {%- endcall -%}
    {%- endif -%}
    {#- Fail here, naming the source and path, rather than deep inside a model. -#}
    {%- call statement('probe_source', fetch_result=False) -%}
        select 1 from {{ schema_name }}.{{ node.identifier }} limit 1
    {%- endcall -%}
    {{ log('Registered source ' ~ node.source_name ~ '.' ~ node.name ~ ' (' ~ file_format ~ ') at ' ~ location, info=True) }}
{% endmacro %}


{#
    Sources written by a job outside dbt (the streaming ingest) declare
    `meta.create_if_missing: {partitioned_by: [...]}` and typed columns: the table is created
    empty, with the schema the job writes, so the models and tests downstream run before the
    job's first batch. An existing table is left alone.
#}
{% macro create_source_table_if_missing(node) %}
    {%- set spec = node.meta['create_if_missing'] -%}
    {%- set partitioned_by = spec.get('partitioned_by', []) if spec is mapping else [] -%}
    {%- call statement('create_source_schema') -%}
        create schema if not exists {{ node.schema }}
    {%- endcall -%}
    {%- call statement('create_source_table_if_missing') -%}
        create table if not exists {{ node.schema }}.{{ node.identifier }} (
            {%- for column in node.columns.values() %}
            `{{ column.name }}` {{ column.data_type }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
        using parquet
        {%- if partitioned_by %}
        partitioned by ({{ partitioned_by | join(', ') }})
        {%- endif %}
    {%- endcall -%}
{% endmacro %}
