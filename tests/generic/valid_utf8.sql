{#
    The source's files are UTF-8: no string column holds bytes that are not valid UTF-8, nor
    U+FFFD, the replacement character a decoder puts in their place (a Latin-1 or UTF-16 file
    read as UTF-8 gives garbled text, not an error). Raises with a readable message naming the source,
    the column and an example (severity error, the default); returns the rows with `severity: warn`.
    Fix: convert the files to UTF-8, or declare the reader option `encoding` (CSV, JSON).
#}
{% test valid_utf8(model) %}
{%- set raise = (config.get('severity') or 'error') | lower == 'error' -%}
{#- Invalid bytes are either kept as they are (JSON: Spark keeps the raw line in _corrupt_record)
    or decoded to U+FFFD, the replacement character (CSV's decoder): look for both. -#}
{%- set not_utf8 = "(not is_valid_utf8({0}) or instr({0}, '\\uFFFD') > 0)" -%}
{%- set columns = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(model) if column.dtype | lower == 'string' -%}
        {%- do columns.append(column.name) -%}
    {%- endfor -%}
{%- endif -%}

with

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
        end as column_name,
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

failures as (

    select
        concat(
            'Not UTF-8: ', count(*), ' value(s) of {{ model }} contain the replacement character ',
            'U+FFFD (bytes that are not valid UTF-8), first in column ', min(column_name),
            ': "', substring(min(bad_value), 1, 80), '". Convert the files to UTF-8 or set the ',
            'reader option encoding in the source''s meta.external.options.'
        ) as failure,
        count(*) as bad_values
    from bad_rows
    having count(*) > 0

)

select * from failures
{%- if raise %}
where raise_error(failure) is null
{%- endif %}

{% endtest %}

