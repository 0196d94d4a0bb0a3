{#
    Registers every source that has `meta.external` as a Spark relation over its files, so SQL
    models read CSV, JSON and Parquet with `source()` like any table.

    meta.external:
      location: path of a file or directory (any Hadoop path: local, s3a://, hdfs://)
      format:   csv | json | parquet (allow-list, validate_inputs.sql)
      options:  reader options, merged over the per-format defaults below (keys must be
                option names, values are escaped as Spark SQL string literals)
      infer_schema: true -> let Spark infer the schema instead of the declared columns (the
                    declared columns are then selected from it, and malformed lines cannot
                    be kept: Spark drops nothing, but fills unparseable fields with null)
      allow_empty: true -> do not fail when the source has no rows

    CSV and JSON are read with the declared columns (all strings: casting is staging's job) plus
    `_corrupt_record`, so malformed lines are kept and quarantined rather than dropped. Formats
    without a corrupt-record column (Parquet) get a null `_corrupt_record`, so staging is
    identical for every format. Every source also has `_loaded_at`, the modification time of the
    file each row comes from (the sources' `loaded_at_field` for `dbt source freshness`).

    Crash-safe and idempotent. A source's definition (format, location, options, columns, and
    for schema-inferring formats the schema the files have now) hashes to a short id. The files
    are registered as the external table `<name>__<id>` and the user-facing name `<name>` is a
    view over it carrying the id in TBLPROPERTIES. A run whose definition is already registered
    issues no DDL. A changed definition creates `<name>__<id>`, checks it (declared columns
    present, not empty) and only then flips the view with ONE metastore operation (`create or
    replace view`); older `<name>__*` tables are dropped after the flip (external tables: the
    files are never touched). Readers of `<name>` see the old or the new definition, never a
    missing relation; a run killed at any point leaves the old view in place, and the rerun
    finishes the job. Migration from the former layout (`<name>` a table) drops that table once.
#}
{% macro register_external_sources(only=none) %}
    {%- if execute -%}
        {#- only: e.g. ['raw.transactions'] (run-operation --args), to register just those. -#}
        {%- set needed = sources_needed_by_selection() -%}
        {%- if only is not none -%}
            {%- set needed = graph.sources.values() | selectattr('unique_id', 'in', needed)
                | selectattr('source_name') | list -%}
            {%- set needed = needed | selectattr('source_name') | list -%}
            {%- set picked = [] -%}
            {%- for node in needed if (node.source_name ~ '.' ~ node.name) in only -%}
                {%- do picked.append(node.unique_id) -%}
            {%- endfor -%}
            {%- set needed = picked -%}
        {%- endif -%}
        {#- Every definition is validated before the first DDL of the run. -#}
        {%- set specs = [] -%}
        {%- for node in graph.sources.values() if node.unique_id in needed and node.meta.get('external') -%}
            {%- do specs.append(external_source_spec(node)) -%}
        {%- endfor -%}
        {#- Two sources registered as one relation would overwrite each other's view (and a
            listing shared by both would be stale for the second): refused before any DDL. -#}
        {%- set registered_as = {} -%}
        {%- for spec in specs -%}
            {%- set relation = (spec.schema ~ '.' ~ spec.identifier) | lower -%}
            {%- if relation in registered_as -%}
                {%- do exceptions.raise_compiler_error(
                    "Sources " ~ registered_as[relation] ~ " and " ~ spec.label[7:] ~ " are both "
                    ~ "registered as " ~ relation ~ ": give one of them another identifier or "
                    ~ "schema (models/staging/*/_*__sources.yml).") -%}
            {%- endif -%}
            {%- do registered_as.update({relation: spec.label[7:]}) -%}
        {%- endfor -%}
        {#- Each schema is listed once for all of its sources (a source's DDL only touches its
            own names, so one source's registration leaves the others' listing true). -#}
        {%- set listings = {} -%}
        {%- for spec in specs -%}
            {%- if spec.schema not in listings -%}
                {%- do listings.update({spec.schema: _schema_listing(spec.schema)}) -%}
            {%- endif -%}
            {%- do register_external_source(spec, listings[spec.schema]) -%}
        {%- endfor -%}
        {%- for node in graph.sources.values() if node.unique_id in needed and not node.meta.get('external') -%}
            {%- if node.meta.get('create_if_missing') -%}
                {%- do create_source_table_if_missing(node) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}


{#- The sources that this invocation's selected nodes read (all of them when nothing is
    selected, e.g. in run-operation), so `dbt build -s events` does not need the raw files.
    run-operation selects nothing, but dbt keeps the last selection of the process: a program
    that runs dbt in-process (dbtRunner) would see the previous command's. -#}
{% macro sources_needed_by_selection() %}
    {%- set all_sources = graph.sources.keys() | list -%}
    {%- if flags.WHICH == 'run-operation' or selected_resources is not defined or not selected_resources -%}
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




{#- The formats a source may declare (Spark reads more; these are the ones the project tests). -#}
{% macro external_source_formats() %}
    {{ return(['csv', 'json', 'parquet']) }}
{% endmacro %}


{#- A source's meta.external, validated: everything that reaches SQL is checked or escaped here
    (validate_inputs.sql), before any DDL of this run. Errors name the source and the var. -#}
{% macro external_source_spec(node) %}
    {%- set label = 'source ' ~ node.source_name ~ '.' ~ node.name -%}
    {%- if node.meta['external'] is not mapping -%}
        {%- do _input_error('meta.external of ' ~ label, node.meta['external'], 'expected a mapping') -%}
    {%- endif -%}
    {#- Your own files (source_mappings.sql): the mapping's location, format and options win. -#}
    {%- set mapping = source_mapping(node) -%}
    {%- set external = {} -%}
    {%- do external.update(node.meta['external']) -%}
    {%- if mapping is not none -%}
        {%- for key in ['location', 'format'] if mapping[key] is not none -%}
            {%- do external.update({key: mapping[key]}) -%}
        {%- endfor -%}
        {%- if mapping.options is not none -%}
            {%- if mapping.options is not mapping -%}
                {%- do _input_error("var 'source_mappings'." ~ node.name ~ '.options', mapping.options, 'expected a mapping of reader options') -%}
            {%- endif -%}
            {%- set options = {} -%}
            {%- do options.update(external.get('options') or {}) -%}
            {%- do options.update(mapping.options) -%}
            {%- do external.update({'options': options}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set file_format = checked_choice(
        "format of " ~ label ~ " (meta.external.format, var '" ~ node.name ~ "_format')",
        external.get('format', 'csv'), external_source_formats()) -%}
    {%- set location = external.get('location') -%}
    {%- if location is not string or location | trim == '' -%}
        {%- do _input_error("location of " ~ label ~ " (meta.external.location, var '" ~ node.name
            ~ "_location')", location, 'expected a file or directory path') -%}
    {%- endif -%}
    {%- set infer_schema = checked_choice(
        "infer_schema of " ~ label ~ " (meta.external.infer_schema, var '" ~ node.name ~ "_infer_schema')",
        external.get('infer_schema', false), ['true', 'false']) == 'true' -%}
    {%- set allow_empty = checked_choice("allow_empty of " ~ label ~ " (meta.external.allow_empty)",
        external.get('allow_empty', false), ['true', 'false']) == 'true' -%}
    {%- set schema_name = validated_identifier(node.schema,
        "schema of " ~ label ~ " (var '" ~ node.source_name ~ "_schema')") -%}
    {%- set identifier = validated_identifier(node.identifier, "identifier of " ~ label) -%}
    {%- do _refuse_files_table_name(identifier, label) -%}

    {#- An inferred schema has no corrupt-record column: read like Parquet. A mapping reads
        your columns as strings, so it keeps corrupt records whatever infer_schema says. -#}
    {%- set infer_schema = infer_schema and mapping is none -%}
    {%- set keeps_corrupt_records = file_format in ('csv', 'json') and not infer_schema -%}
    {%- set defaults = {
        'csv': {'header': 'true', 'mode': 'PERMISSIVE', 'columnNameOfCorruptRecord': '_corrupt_record'},
        'json': {'mode': 'PERMISSIVE', 'columnNameOfCorruptRecord': '_corrupt_record'},
    }.get(file_format, {}) -%}
    {%- set options = {} -%}
    {%- do options.update(defaults) -%}
    {%- set user_options = external.get('options') or {} -%}
    {%- if user_options is not mapping -%}
        {%- do _input_error('meta.external.options of ' ~ label, user_options, 'expected a mapping of reader options') -%}
    {%- endif -%}
    {%- for key, value in user_options.items() -%}
        {%- if key is not string or modules.re.fullmatch('[A-Za-z][A-Za-z0-9_.]{0,99}', key) is none -%}
            {%- do _input_error('reader option name in meta.external.options of ' ~ label, key, 'expected an option name such as sep or dateFormat') -%}
        {%- endif -%}
        {%- if value is none or value is mapping or (value is iterable and value is not string) -%}
            {%- do _input_error("reader option '" ~ key ~ "' of " ~ label, value, 'expected a string, number or boolean') -%}
        {%- endif -%}
        {%- do options.update({key: (value | string | lower) if value is boolean else (value | string)}) -%}
    {%- endfor -%}
    {%- if infer_schema and file_format == 'csv' -%}
        {%- do options.update({'inferSchema': 'true'}) -%}
    {%- endif -%}
    {%- do options.update({'path': location}) -%}

    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- set data_type = (column.data_type or 'string') | lower -%}
        {%- if modules.re.fullmatch('[a-z][a-z0-9_]*( ?[(][0-9]+( ?, ?[0-9]+)?[)])?', data_type) is none -%}
            {%- do _input_error('data_type of column ' ~ column.name ~ ' of ' ~ label, data_type, 'expected a Spark type such as string or decimal(18, 2)') -%}
        {%- endif -%}
        {%- do columns.append({
            'name': validated_identifier(column.name, 'column name of ' ~ label),
            'type': data_type}) -%}
    {%- endfor -%}
    {%- if not columns -%}
        {%- do _input_error('columns of ' ~ label, [], 'expected the declared columns of the source') -%}
    {%- endif -%}
    {{ return({
        'label': label, 'name': node.name, 'schema': schema_name, 'identifier': identifier,
        'format': file_format, 'location': location, 'options': options, 'columns': columns,
        'infer_schema': infer_schema, 'allow_empty': allow_empty,
        'keeps_corrupt_records': keeps_corrupt_records, 'mapping': mapping}) }}
{% endmacro %}


{#- `<name>__<12 hex>` and `<name>__files` are this macro's names for the files behind the
    source `<name>` (the stale ones get dropped): no source may be registered as one. -#}
{% macro _refuse_files_table_name(identifier, label) %}
    {%- if modules.re.fullmatch('(?i).+__([0-9a-f]{12}|files)', identifier) -%}
        {%- do _input_error("identifier of " ~ label, identifier, "a name ending in '__files' or "
            ~ "'__' and 12 hex digits is reserved for the files table of a source; set another "
            ~ "identifier in models/staging/*/_*__sources.yml") -%}
    {%- endif -%}
{% endmacro %}


{% macro _source_options_sql(options) %}
    {%- set parts = [] -%}
    {%- for key in options | sort -%}
        {%- do parts.append(sql_string_literal(key) ~ ' = ' ~ sql_string_literal(options[key])) -%}
    {%- endfor -%}
    {{ return('options (' ~ parts | join(', ') ~ ')') }}
{% endmacro %}


{#- The columns the files have now (schema-inferring formats), read through a session-local
    temporary view: no metastore DDL. [[name, type], ...] in file order. -#}
{% macro _source_file_columns(spec) %}
    {%- set probe = '_spark_analytics_source_probe' -%}
    {%- call statement('infer_source_schema') -%}
        create or replace temporary view {{ probe }}
        using {{ spec.format }}
        {{ _source_options_sql(spec.options) }}
    {%- endcall -%}
    {%- set described = run_query('describe ' ~ probe) -%}
    {%- do run_query('drop view if exists ' ~ probe) -%}
    {%- set found = [] -%}
    {%- for row in described.rows -%}
        {%- if row[0] and not (row[0] | string).startswith('#') -%}
            {%- do found.append([row[0] | string, row[1] | string]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- A schema's relations: {'exists', 'tables': names of its tables and views, 'views': names
    of its views}, lower-case, temporary views left out. Reads only. -#}
{% macro _schema_listing(schema_name) %}
    {%- set listing = {'exists': false, 'tables': [], 'views': []} -%}
    {%- if (run_query("show schemas like '" ~ schema_name ~ "'").rows | length) == 0 -%}
        {{ return(listing) }}
    {%- endif -%}
    {%- do listing.update({'exists': true}) -%}
    {%- for row in run_query("show tables in " ~ schema_name).rows if not row[2] -%}
        {%- do listing.tables.append(row[1] | lower) -%}
    {%- endfor -%}
    {%- for row in run_query("show views in " ~ schema_name).rows if not row[2] -%}
        {%- do listing.views.append(row[1] | lower) -%}
    {%- endfor -%}
    {{ return(listing) }}
{% endmacro %}


{#- What the metastore holds for a source now, from its schema's listing: the user-facing
    relation's type ('view' | 'table' | none), the definition id on the view, the `<name>*`
    tables. Reads only. -#}
{% macro _registered_source_state(spec, listing) %}
    {%- set state = {'schema_exists': listing.exists, 'relation_type': none, 'definition_id': none, 'tables': []} -%}
    {%- if not listing.exists -%}
        {{ return(state) }}
    {%- endif -%}
    {%- set identifier = spec.identifier | lower -%}
    {%- set names = [] -%}
    {%- for name in listing.tables if name.startswith(identifier) -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {%- do state.update({'tables': names}) -%}
    {%- if identifier in names -%}
        {%- if identifier in listing.views -%}
            {%- do state.update({'relation_type': 'view'}) -%}
            {%- set props = run_query("show tblproperties " ~ spec.schema ~ "." ~ identifier) -%}
            {%- for row in props.rows if row[0] == 'spark_analytics.source_definition' -%}
                {%- do state.update({'definition_id': row[1] | string}) -%}
            {%- endfor -%}
        {%- else -%}
            {%- set described = run_query("describe table extended " ~ spec.schema ~ "." ~ identifier) -%}
            {%- set table_type = [] -%}
            {%- for row in described.rows if (row[0] | string | trim) == 'Type' -%}
                {%- do table_type.append(row[1] | string | trim | upper) -%}
            {%- endfor -%}
            {%- do state.update({'relation_type': 'table', 'table_type': table_type | first | default('UNKNOWN')}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(state) }}
{% endmacro %}


{% macro _fail_if_empty(spec, relation) %}
    {%- if not spec.allow_empty -%}
        {%- set probe = run_query('select 1 from ' ~ relation ~ ' limit 1') -%}
        {%- if (probe.rows | length) == 0 -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(false) }}
{% endmacro %}


{% macro _empty_source_error(spec) %}
    {%- do exceptions.raise_compiler_error(
        "Source " ~ spec.label[7:] ~ " is empty: no rows in " ~ spec.format ~ " files at '"
        ~ spec.location ~ "' (the path does not exist, or it is an empty directory, an empty "
        ~ "file or a CSV with only a header). "
        ~ "Point var '" ~ spec.name ~ "_location' at the data, or set meta.external.allow_empty: "
        ~ "true if an empty source is expected.") -%}
{% endmacro %}


{% macro register_external_source(spec, listing) %}
    {%- set schema_name = spec.schema -%}
    {%- set view_name = schema_name ~ '.' ~ spec.identifier -%}
    {{ log('Registering ' ~ spec.label ~ ' (' ~ spec.format ~ ') at ' ~ spec.location, info=True) }}

    {#- Schema-inferring formats: the files' schema now is part of the definition, and every
        declared column must be in it (rather than silently reading nulls). -#}
    {%- set file_columns = none -%}
    {%- if spec.mapping is not none -%}
        {#- Your files' own columns (a CSV's header, a JSON's keys), all read as strings. -#}
        {%- set file_columns = _source_file_columns(spec) | rejectattr('0', 'equalto', '_corrupt_record') | list -%}
        {%- do check_mapped_columns(spec, file_columns) -%}
    {%- elif not spec.keeps_corrupt_records -%}
        {%- set file_columns = _source_file_columns(spec) -%}
        {%- set found = file_columns | map('first') | map('lower') | list -%}
        {%- set missing = [] -%}
        {%- for column in spec.columns if column.name | lower not in found -%}
            {%- do missing.append(column.name) -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- do exceptions.raise_compiler_error(
                "The " ~ spec.format ~ " files of " ~ spec.label ~ " at '" ~ spec.location
                ~ "' do not have the declared column(s) " ~ missing | join(', ') ~ "; they have: "
                ~ (file_columns | map('join', ' ') | join(', ')) ~ ". Fix the files or the "
                ~ "source's columns (models/staging/*/_*__sources.yml).") -%}
        {%- endif -%}
    {%- endif -%}

    {%- set definition = {
        'layout': 3, 'format': spec.format, 'location': spec.location, 'options': spec.options,
        'columns': spec.columns, 'keeps_corrupt_records': spec.keeps_corrupt_records,
        'file_columns': file_columns, 'mapping': spec.mapping} -%}
    {%- set definition_id = local_md5(tojson(definition, sort_keys=true))[:12] -%}
    {%- set files_table = (spec.identifier ~ '__' ~ definition_id) | lower -%}
    {%- set state = _registered_source_state(spec, listing) -%}

    {%- if state.relation_type == 'view' and state.definition_id == definition_id
        and files_table in state.tables -%}
        {%- if _fail_if_empty(spec, view_name) -%}
            {%- do _empty_source_error(spec) -%}
        {%- endif -%}
        {{ log('Source ' ~ spec.label[7:] ~ ' unchanged (definition ' ~ definition_id ~ '): no DDL', info=True) }}
        {{ return(none) }}
    {%- endif -%}

    {%- if not state.schema_exists -%}
        {%- call statement('create_raw_schema') -%}
            create schema if not exists {{ schema_name }}
        {%- endcall -%}
    {%- endif -%}
    {#- 1. The new definition, next to the old one (readers still see the old view). -#}
    {%- call statement('create_source_files_table') -%}
        create table if not exists {{ schema_name }}.{{ files_table }}
        {%- if spec.keeps_corrupt_records and spec.mapping is not none %}
        (
            {%- for column in file_columns %}
            `{{ column[0] }}` string,
            {%- endfor %}
            `_corrupt_record` string
        )
        {%- elif spec.keeps_corrupt_records %}
        (
            {%- for column in spec.columns %}
            `{{ column.name }}` {{ column.type }},
            {%- endfor %}
            `_corrupt_record` string
        )
        {%- endif %}
        using {{ spec.format }}
        {{ _source_options_sql(spec.options) }}
        tblproperties ('spark_analytics.source_definition' = '{{ definition_id }}')
    {%- endcall -%}
    {#- 2. Checked before anyone sees it: an empty source fails the run, the old view stays. -#}
    {%- if _fail_if_empty(spec, schema_name ~ '.' ~ files_table) -%}
        {%- do run_query('drop table if exists ' ~ schema_name ~ '.' ~ files_table) -%}
        {%- do _empty_source_error(spec) -%}
    {%- endif -%}
    {#- 3. Migration from the former layout, where <name> was the external table itself. -#}
    {%- if state.relation_type == 'table' -%}
        {%- if state.table_type != 'EXTERNAL' -%}
            {%- do exceptions.raise_compiler_error(
                view_name ~ " is a " ~ state.table_type ~ " table, not the external table or view "
                ~ "this project registers for " ~ spec.label ~ "; refusing to drop it. Move it "
                ~ "away, or register the sources into another schema (var '"
                ~ spec.label[7:].split('.')[0] ~ "_schema').") -%}
        {%- endif -%}
        {{ log('Migrating ' ~ view_name ~ ' from an external table to a view (one-time drop)', info=True) }}
        {%- call statement('drop_former_source_table') -%}
            drop table {{ view_name }}
        {%- endcall -%}
    {%- endif -%}
    {#- 4. The flip: one metastore operation. `alter view ... as` is a single alterTable call;
           `create or replace view` would be drop + create inside Spark. The definition id is
           recorded after it (a kill in between only makes the next run flip again). -#}
    {%- set source_select -%}
        select {{ 'distinct' if spec.mapping and spec.mapping.distinct }}
            {%- for column in spec.columns %}
            {%- set value = mapped_column_sql(spec.mapping.rules[column.name]) if spec.mapping else '`' ~ column.name ~ '`' %}
            cast({{ value }} as {{ column.type }}) as `{{ column.name }}`,
            {%- endfor %}
            {{ '`_corrupt_record`' if spec.keeps_corrupt_records else 'cast(null as string)' }} as `_corrupt_record`,
            {#- When the line's file was last written: the sources' loaded_at_field (freshness). #}
            _metadata.file_modification_time as `_loaded_at`
        from {{ schema_name }}.{{ files_table }}
    {%- endset -%}
    {%- if state.relation_type == 'view' -%}
        {%- call statement('flip_source_view') -%}
            alter view {{ view_name }} as {{ source_select }}
        {%- endcall -%}
        {%- call statement('record_source_definition') -%}
            alter view {{ view_name }}
            set tblproperties ('spark_analytics.source_definition' = '{{ definition_id }}')
        {%- endcall -%}
    {%- else -%}
        {%- call statement('flip_source_view') -%}
            create view {{ view_name }}
            tblproperties ('spark_analytics.source_definition' = '{{ definition_id }}')
            as {{ source_select }}
        {%- endcall -%}
    {%- endif -%}
    {#- 5. Older definitions (and the former `<name>__files`) go after the flip. -#}
    {%- set stale_pattern = modules.re.escape(spec.identifier | lower) ~ '__([0-9a-f]{12}|files)' -%}
    {%- for name in state.tables if name != files_table and name not in listing.views
        and modules.re.fullmatch(stale_pattern, name) -%}
        {%- call statement('drop_stale_source_table') -%}
            drop table if exists {{ schema_name }}.{{ name }}
        {%- endcall -%}
    {%- endfor -%}
    {{ log('Source ' ~ spec.label[7:] ~ ' registered: ' ~ view_name ~ ' -> ' ~ files_table, info=True) }}
{% endmacro %}


{#
    Sources written by a job outside dbt (the streaming ingest) declare
    `meta.create_if_missing: {partitioned_by: [...]}` and typed columns: the table is created
    empty, with the schema the job writes, so the models and tests downstream run before the
    job's first batch. An existing table is left alone.
#}
{% macro create_source_table_if_missing(node) %}
    {%- set label = 'source ' ~ node.source_name ~ '.' ~ node.name -%}
    {%- set spec = node.meta['create_if_missing'] -%}
    {%- set partitioned_by = validated_identifier_list('meta.create_if_missing.partitioned_by of ' ~ label,
        spec.get('partitioned_by', []) if spec is mapping else []) -%}
    {%- set schema_name = validated_identifier(node.schema, "schema of " ~ label ~ " (var '" ~ node.source_name ~ "_schema')") -%}
    {%- set identifier = validated_identifier(node.identifier, "identifier of " ~ label) -%}
    {%- do _refuse_files_table_name(identifier, label) -%}
    {%- for column in node.columns.values() -%}
        {%- do validated_identifier(column.name, 'column name of ' ~ label) -%}
        {%- if modules.re.fullmatch('[A-Za-z][A-Za-z0-9_]*( ?[(][0-9]+( ?, ?[0-9]+)?[)])?', column.data_type or '') is none -%}
            {%- do _input_error('data_type of column ' ~ column.name ~ ' of ' ~ label, column.data_type, 'expected a Spark type such as string or decimal(18, 2)') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- call statement('create_source_schema') -%}
        create schema if not exists {{ schema_name }}
    {%- endcall -%}
    {%- call statement('create_source_table_if_missing') -%}
        create table if not exists {{ schema_name }}.{{ identifier }} (
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
