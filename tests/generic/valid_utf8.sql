{#
    The source's files are UTF-8: no string column holds U+FFFD, the replacement character
    Spark's readers put where bytes are not valid UTF-8 (a Latin-1 or UTF-16 file read as
    UTF-8 gives garbled text, not an error). Raises with a readable message naming the source,
    the column and an example (severity error, the default); returns the rows with `severity: warn`.
    Fix: convert the files to UTF-8, or declare the reader option `encoding` (CSV, JSON).
#}
{% test valid_utf8(model) %}
{%- set raise = (config.get('severity') or 'error') | lower == 'error' -%}
{%- set columns = [] -%}
{%- if execute -%}
    {#- Spark refuses a query of a raw CSV/JSON file that reads only its _corrupt_record. -#}
    {%- for column in adapter.get_columns_in_relation(model)
        if column.dtype | lower == 'string' and column.name != '_corrupt_record' -%}
        {%- do columns.append(column.name) -%}
    {%- endfor -%}
{%- endif -%}

with

bad_rows as (

    {%- for column in columns %}
    select '{{ column }}' as column_name, `{{ column }}` as bad_value
    from {{ model }}
    where instr(`{{ column }}`, '\uFFFD') > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not columns %}
    select cast(null as string) as column_name, cast(null as string) as bad_value
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
