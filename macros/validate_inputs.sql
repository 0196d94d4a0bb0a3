{#
    Hostile input stops here: every project var and source option that reaches SQL goes through
    one of these macros, which either return a value that is safe to paste into Spark SQL or
    stop the run with an error naming the var (or the YAML key) and what was expected.

      validated_number(var_name, min, max)         -> a plain decimal number (no NaN/inf)
      validated_integer(var_name, min, max)        -> an integer
      validated_date(var_name)                     -> 'YYYY-MM-DD' (a real calendar date), or
                                                      none when the var is null or ''
      checked_choice(what, value, allowed)         -> one of `allowed` (compared lower-cased)
      validated_identifier(value, what)            -> a Spark identifier [A-Za-z_][A-Za-z0-9_]*
      validated_identifier_list(what, values)      -> a list of such identifiers
      sql_string_literal(value)                    -> '...' with backslashes, quotes and `${`
                                                      escaped for Spark SQL string literals
      check_cli_var_names()                        -> stops a command whose --vars sets a
                                                      var the project does not read

    Spark SQL string literals treat backslash as an escape character, and Spark substitutes
    `${...}` (conf values, `${env:...}`) in the SQL text before parsing it, so both are escaped.
#}

{% macro _input_error(what, value, expected) %}
    {%- do exceptions.raise_compiler_error(
        "Invalid " ~ what ~ ": " ~ expected ~ ", got " ~ (value | tojson) ~ "."
    ) -%}
{% endmacro %}


{% macro is_plain_number(value) %}
    {%- if value is none or value is boolean or value is mapping
        or (value is iterable and value is not string) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {{ return(modules.re.fullmatch('[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,3})?', text) is not none) }}
{% endmacro %}


{#- The var's value, its default under `vars:` in dbt_project.yml (none here, so there is one
    place for it: a var missing there gets dbt's own error). -#}
{% macro validated_number(var_name, min_value=none, max_value=none) %}
    {%- set value = var(var_name) -%}
    {%- if not is_plain_number(value) -%}
        {%- do _input_error("var '" ~ var_name ~ "'", value, "expected a number such as 1000 or 499.99") -%}
    {%- endif -%}
    {%- set number = value | string | trim | float -%}
    {%- if (min_value is not none and number < min_value) or (max_value is not none and number > max_value) -%}
        {%- do _input_error("var '" ~ var_name ~ "'", value,
            "expected a number in [" ~ (min_value if min_value is not none else '-inf') ~ ", "
            ~ (max_value if max_value is not none else 'inf') ~ "]") -%}
    {%- endif -%}
    {#- The validated text, not the float: 500.01 stays exactly 500.01 in SQL. -#}
    {{ return(value | string | trim) }}
{% endmacro %}


{% macro validated_integer(var_name, min_value=none, max_value=none) %}
    {%- set value = var(var_name) -%}
    {%- if value is none or value is boolean
        or modules.re.fullmatch('[+-]?[0-9]{1,18}', value | string | trim) is none -%}
        {%- do _input_error("var '" ~ var_name ~ "'", value, "expected an integer such as 30") -%}
    {%- endif -%}
    {%- set number = value | string | trim | int -%}
    {%- if (min_value is not none and number < min_value) or (max_value is not none and number > max_value) -%}
        {%- do _input_error("var '" ~ var_name ~ "'", value,
            "expected an integer in [" ~ (min_value if min_value is not none else '-inf') ~ ", "
            ~ (max_value if max_value is not none else 'inf') ~ "]") -%}
    {%- endif -%}
    {{ return(number) }}
{% endmacro %}


{% macro validated_date(var_name) %}
    {%- set value = var(var_name) -%}
    {%- if value is none or value == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set ok = modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) is not none -%}
    {%- if ok -%}
        {%- set year, month, day = text[0:4] | int, text[5:7] | int, text[8:10] | int -%}
        {%- set ok = year >= 1 and 1 <= month <= 12 and day >= 1 -%}
        {%- if ok -%}
            {%- set first = modules.datetime.date(year, month, 1) -%}
            {%- set days = 31 if month == 12 else (modules.datetime.date(year, month + 1, 1) - first).days -%}
            {%- set ok = day <= days -%}
        {%- endif -%}
    {%- endif -%}
    {%- if not ok -%}
        {%- do _input_error("var '" ~ var_name ~ "'", value, "expected a date YYYY-MM-DD") -%}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}


{#- `what` names where the value came from, e.g. "format of source raw.transactions (var ...)". -#}
{% macro checked_choice(what, value, allowed) %}
    {%- set text = value | string | trim | lower -%}
    {%- if value is none or value is mapping or text not in allowed -%}
        {%- do _input_error(what, value, "expected one of " ~ (allowed | join(', '))) -%}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}


{% macro validated_identifier(value, what) %}
    {%- if value is not string or modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]{0,127}', value) is none -%}
        {%- do _input_error(what, value, "expected an identifier (letters, digits, underscore; not starting with a digit)") -%}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}


{#- A list of identifiers (hint arguments). `allow_leading_number`: repartition(8, col). -#}
{% macro validated_identifier_list(what, values, allow_leading_number=false) %}
    {%- if values is string or values is mapping or values is not iterable -%}
        {%- do _input_error(what, values, "expected a list of identifiers") -%}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- for item in values -%}
        {%- if loop.first and allow_leading_number and item is number and item is not boolean
            and modules.re.fullmatch('[0-9]{1,6}', item | string) is not none -%}
            {%- do checked.append(item | string) -%}
        {%- else -%}
            {%- do checked.append(validated_identifier(item, what ~ " item " ~ loop.index)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(checked) }}
{% endmacro %}


{#- A Spark SQL string literal for any value: '...' with \ ' and ${ escaped. -#}
{% macro sql_string_literal(value) %}
    {%- set text = value | string -%}
    {%- set escaped = text
        | replace('\\', '\\\\')
        | replace("'", "\\'")
        | replace('\n', '\\n')
        | replace('\r', '\\r')
        | replace('${', '\\u0024{') -%}
    {{ return("'" ~ escaped ~ "'") }}
{% endmacro %}


{#-
    dbt ignores a --vars name that nothing reads, so a misspelled `high_value_treshold` (or a
    mapping file's `source_mapping:`) would run with the default, silently. The names --vars
    may set: the vars of dbt_project.yml, and the sources' own, read in their YAML: `data_dir`,
    `<source>_schema`, and per file source table `<table>_location`, `_format`, `_infer_schema`.
    Called by the spark_oss adapter as dbt fills its relation cache, by the first on-run-start
    hook and by `dbt run-operation check_source_mappings`; README.md ("Data quality") lists the
    commands checked.
-#}
{% macro check_cli_var_names() %}
    {%- set given = invocation_args_dict.get('vars') or {} -%}
    {#- An --inline query (`dbt show`, `dbt compile`) may read vars of its own: a name it passes
        to `var(...)` as a quoted literal is not refused. -#}
    {%- set inline = invocation_args_dict.get('inline') or '' -%}
    {%- if execute and given is mapping and given -%}
        {%- set known = adapter.spark_oss_project_var_names() + ['data_dir'] -%}
        {%- for source in graph.sources.values() -%}
            {%- do known.append(source.source_name ~ '_schema') -%}
            {%- if source.meta.get('external') -%}
                {%- for suffix in ['_location', '_format', '_infer_schema'] -%}
                    {%- do known.append(source.name ~ suffix) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set known = known | unique | sort -%}
        {%- set unknown = [] -%}
        {%- for name in given if name not in known
            and not modules.re.search(
                '\\bvar\\s*\\(\\s*([\'"])' ~ modules.re.escape(name | string) ~ '\\1', inline) -%}
            {%- set closest = adapter.spark_oss_closest_name(name | string, known) -%}
            {%- do unknown.append((name | string | tojson)
                ~ ((" (did you mean " ~ (closest | tojson) ~ "?)") if closest else "")) -%}
        {%- endfor -%}
        {%- if unknown -%}
            {%- set several = unknown | length > 1 -%}
            {%- do exceptions.raise_compiler_error(
                "Unknown var" ~ ("s" if several else "") ~ " in --vars: " ~ unknown | join(', ')
                ~ ". The project reads no var of " ~ ("these names" if several else "that name")
                ~ ", so " ~ ("their values" if several else "its value") ~ " would be ignored."
                ~ " The vars --vars may set: " ~ known | join(', ') ~ ". A var that a model of"
                ~ " your own reads needs its default under `vars:` in dbt_project.yml."
            ) -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
