{#
    The source's files are UTF-8: no text holds bytes that are not valid UTF-8, nor U+FFFD, the
    replacement character a decoder puts in their place (a Latin-1 or UTF-16 file read as UTF-8
    gives garbled text, not an error). Raises with a readable message naming the source and an
    example (severity error, the default); returns the failure with `severity: warn`.
    Fix: convert the files to UTF-8, or declare the reader option `encoding` (CSV, JSON).

    Two ways to look:
    - the files' lines (`utf8_line_scan`, macros/): CSV and JSON read as UTF-8 are checked as raw
      text, without parsing a field, at a fraction of a parse's cost. A file is UTF-8 or not as a
      whole: its header, skipped lines and columns no model reads are checked too. In JSON, the
      escape `\ufffd` counts as U+FFFD (a producer that decoded badly, then escaped non-ASCII);
    - the values: any other source (Parquet, a declared encoding other than UTF-8, JSON in
      multiLine mode, `allow_empty`, `where`, `--empty`, stored failures: `utf8_line_scan`) is
      read through the relation, every string column at once.
#}
{% test valid_utf8(model) %}
{%- set raise = (config.get('severity') or 'error') | lower == 'error' -%}
{#- Invalid bytes are either kept as they are (JSON: Spark keeps the raw line in _corrupt_record;
    the text reader) or decoded to U+FFFD, the replacement character (CSV's decoder): look for both. -#}
{%- set not_utf8 = "(not is_valid_utf8({0}) or instr({0}, '\\uFFFD') > 0)" -%}
{%- set lines = utf8_line_scan(model) if execute else none -%}
{%- set columns = utf8_value_columns(model) if execute and lines is none else [] -%}

with

{% if lines is not none -%}
bad_rows as (

    select
        cast(null as string) as found_in,
        make_valid_utf8(value) as bad_value
    from {{ lines.view }}
    where {{ not_utf8.format('value') }}
    {%- if lines.format == 'json' %}
        or contains(value, '\\ufffd') or contains(value, '\\uFFFD')
    {%- endif %}

),
{%- else -%}
{#- One scan reading every string column at once: Spark's JSON reader only decodes the fields a
    query reads, so a line with invalid bytes is a `_corrupt_record` (holding the raw line) only
    when all of them are read; and it refuses a query that reads `_corrupt_record`
    alone. #}
bad_rows as (

    select
        case
            {%- for column in columns %}
            when {{ not_utf8.format('`' ~ column ~ '`') }} then '{{ column }}'
            {%- endfor %}
        end as found_in,
        coalesce(
            {%- for column in columns %}
            case when {{ not_utf8.format('`' ~ column ~ '`') }} then make_valid_utf8(`{{ column }}`) end,
            {%- endfor %}
            cast(null as string)
        ) as bad_value
    from {{ model }}
    {%- if columns %}
    where {{ not_utf8.format("concat_ws(' ', `" ~ (columns | join('`, `')) ~ "`)") }}
    {%- else %}
    where false
    {%- endif %}

),
{%- endif %}

example as (

    select
        count(*) as bad_values,
        min(found_in) as found_in,
        min(bad_value) as bad_value
    from bad_rows

),

failures as (

    select
        concat(
            'Not UTF-8: ', bad_values,
            {{ sql_string_literal((' line(s) of the files of ' if lines is not none else ' value(s) of ') ~ model) }},
            ' contain the replacement character U+FFFD or bytes that are not valid UTF-8, e.g.',
            coalesce(concat(' in column ', found_in), ''), ': "',
            -- the excerpt around the first bad character (a line can be long)
            substring(bad_value, greatest(1, instr(bad_value, '\uFFFD') - 30), 80),
            '". Convert the files to UTF-8 or set the reader option encoding in the ',
            'source''s meta.external.options.'
        ) as failure,
        bad_values
    from example
    where bad_values > 0

)

select * from failures
{%- if raise %}
where raise_error(failure) is null
{%- endif %}

{% endtest %}
