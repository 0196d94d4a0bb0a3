{#- The lines of `relation`'s files, for the `valid_utf8` test: {'view': a session-local
    temporary view `using text` over them, 'format': csv | json}, or none when the source is
    not line-based text read as UTF-8 (then its values are checked instead). The files are
    selected with the registered reader's own file options; '\n' never occurs inside a UTF-8
    multi-byte sequence, so splitting on it cannot make valid text invalid.

    Only `dbt build` and `test` read lines (`test_run_on_registered_sources`): `compile` and
    `docs generate` also compile the test, and the files may not be there. A test `where` (dbt
    passes the filtered subquery as text), `--empty` (a limited relation), sources that may
    be empty (`allow_empty`: the path need not exist) and tests that store their failures
    (a stored view cannot select from a temporary one) keep the value check.
    `drop_utf8_line_views` (on-run-end) drops the views. -#}
{% macro utf8_line_scan(relation) %}
    {%- if relation is string or relation.limit is not none or relation.event_time_filter
            or not test_run_on_registered_sources()
            or should_store_failures() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = namespace(spec=none) -%}
    {%- for node in graph.sources.values() if node.meta.get('external')
            and (node.schema | lower) == (relation.schema | lower)
            and (node.identifier | lower) == (relation.identifier | lower) -%}
        {%- set found.spec = external_source_spec(node) -%}
    {%- endfor -%}
    {%- set spec = found.spec -%}
    {%- if spec is none or spec.format not in ('csv', 'json') or spec.allow_empty -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set options = {} -%}
    {%- for key, value in spec.options.items() -%}
        {%- do options.update({key | lower: value | string | lower}) -%}
    {%- endfor -%}
    {%- set encoding = options.get('encoding', options.get('charset', 'utf-8')) | replace('-', '') | replace('_', '') -%}
    {#- JSON in multiLine mode detects the file's encoding (a UTF-16 file with a BOM reads fine). -#}
    {%- if encoding != 'utf8' or (spec.format == 'json' and options.get('multiline') == 'true') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set file_options = {'path': spec.location} -%}
    {%- for key, value in spec.options.items()
            if (key | lower) in ('pathglobfilter', 'recursivefilelookup', 'modifiedbefore',
                                 'modifiedafter', 'ignoremissingfiles', 'ignorecorruptfiles',
                                 'basepath', 'linesep') -%}
        {%- do file_options.update({key: value}) -%}
    {%- endfor -%}
    {%- set view = utf8_line_view_name(spec.schema, spec.identifier) -%}
    {%- do run_query('create or replace temporary view ' ~ view ~ ' using text '
        ~ _source_options_sql(file_options)) -%}
    {{ return({'view': view, 'format': spec.format}) }}
{% endmacro %}


{#- The string columns of `model` for the `valid_utf8` value check. With a test `where`, dbt passes
    the filtered subquery as text, whose columns only `describe query` tells; it needs the source
    registered, which `compile` and `docs generate` do not do (no column: `where false`).
    Otherwise the relation itself, without `--empty`'s limit (`describe extended` of the limited
    relation is a syntax error), and a source not registered yet has no column, not an error. -#}
{% macro utf8_value_columns(model) %}
    {%- set described = [] -%}
    {%- if model is string -%}
        {%- if test_run_on_registered_sources() -%}
            {%- for row in run_query('describe query select * from ' ~ model) -%}
                {%- do described.append((row['col_name'], row['data_type'])) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- else -%}
        {%- set relation = api.Relation.create(
            database=model.database, schema=model.schema, identifier=model.identifier) -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do described.append((column.name, column.dtype)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set names = [] -%}
    {#- `string`, or `string collate <collation>` -#}
    {%- for name, data_type in described if (data_type | lower).startswith('string') -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{#- Whether this command runs the tests on sources that the on-run-start hook has registered
    (their files are there): `build` and `test` (`dbt retry` reports the command it retries);
    `compile` and `docs generate` only render them. -#}
{% macro test_run_on_registered_sources() %}
    {{ return(flags.WHICH in ('build', 'test')) }}
{% endmacro %}


{% macro utf8_line_view_name(schema, identifier) %}
    {{ return('_spark_analytics_lines_' ~ local_md5((schema ~ '.' ~ identifier) | lower)[:12]) }}
{% endmacro %}


{#- on-run-end: the line views of this run's `valid_utf8` tests, dropped (a warm session lives on,
    and temporary views show up in every schema's listing). -#}
{% macro drop_utf8_line_views(results) %}
    {%- if execute -%}
        {%- for result in results if result.node.resource_type == 'test'
                and result.node.test_metadata and result.node.test_metadata.name == 'valid_utf8' -%}
            {%- for parent in result.node.depends_on.nodes if parent in graph.sources -%}
                {%- set source = graph.sources[parent] -%}
                {%- do run_query('drop view if exists '
                    ~ utf8_line_view_name(source.schema, source.identifier)) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
