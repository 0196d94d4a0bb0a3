{#-
    Text to a timestamp or a date, null when it is not one. Spark's cast alone also reads the
    special words 'now', 'today', 'yesterday', 'tomorrow' and 'epoch' (a result that depends on
    the day of the run), so the text must first match var datetime_text_pattern (dbt_project.yml),
    which the stream ingest applies too.
-#}
{% macro parse_datetime(text, data_type='timestamp') %}
    {%- if data_type not in ['timestamp', 'date'] -%}
        {%- do exceptions.raise_compiler_error("parse_datetime: data_type must be timestamp or date, got " ~ data_type) -%}
    {%- endif -%}
    case
        when {{ text }} rlike {{ sql_string_literal(var('datetime_text_pattern')) }}
            then try_cast({{ text }} as {{ data_type }})
    end
{%- endmacro %}
