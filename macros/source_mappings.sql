{#
    Your own files without editing SQL (docs/own_data.md; example: examples/shop/mapping.yml).
    Var `source_mappings` says, per file source of source `raw`, where the files are, how to read
    them and which of their columns (or which constant or expression) gives each of our columns:

    source_mappings:
      transactions:                      # a file source (meta.external) of _raw__sources.yml
        location: orders.csv             # relative paths: under var data_dir (make run DATA=...)
        format: csv                      # csv | json | parquet
        options: {sep: ';', quote: '"', encoding: UTF-8}   # Spark reader options
        distinct: false                  # true: one row per distinct mapped row (a dimension
                                         # derived from a fact file, e.g. no merchants file)
        columns:                         # our column: your column, or a rule
          transaction_id: order_key
          purchase_amount: {column: total, decimal_separator: ',', thousands_separator: '.'}
          event_time: {column: ordered_at, formats: ["dd/MM/yyyy HH:mm", epoch_millis]}
          merchant_id: {value: M-0001}                       # a constant
          customer_id: {expression: "concat('C-', cust_no)"} # Spark SQL over your columns

    A declared column left out of `columns` is read from your column of the same name. Your
    extra columns are ignored; a missing one stops the run naming the source, the column and
    the mapping to write. Values a rule cannot convert are passed on unchanged, so staging
    rejects the row with the usual reason (non_numeric_amount, unparseable_event_time) and the
    raw text lands in quarantine: a mapping never loses a row and never adds a reason.
#}

{% macro source_mapping_keys() %}
    {{ return(['location', 'format', 'options', 'distinct', 'columns']) }}
{% endmacro %}


{% macro column_rule_keys() %}
    {{ return(['column', 'value', 'expression', 'formats', 'decimal_separator', 'thousands_separator']) }}
{% endmacro %}


{#- The validated mapping of one file source (none when var source_mappings has no entry). -#}
{% macro source_mapping(node) %}
    {%- set mappings = var('source_mappings') or {} -%}
    {%- if mappings is not mapping -%}
        {%- do _input_error("var 'source_mappings'", mappings, 'expected a mapping from a file source name to its mapping') -%}
    {%- endif -%}
    {%- set file_sources = [] -%}
    {%- for source in graph.sources.values() if source.meta.get('external') -%}
        {%- do file_sources.append(source.name) -%}
    {%- endfor -%}
    {%- for name in mappings if name not in file_sources -%}
        {%- do _input_error("source name in var 'source_mappings'", name,
            'expected one of the file sources: ' ~ file_sources | join(', ')) -%}
    {%- endfor -%}
    {%- set entry = mappings.get(node.name) -%}
    {%- if entry is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set where = "var 'source_mappings'." ~ node.name -%}
    {%- if entry is not mapping -%}
        {%- do _input_error(where, entry, 'expected a mapping with keys ' ~ source_mapping_keys() | join(', ')) -%}
    {%- endif -%}
    {%- for key in entry if key not in source_mapping_keys() -%}
        {%- do _input_error('key of ' ~ where, key, 'expected one of ' ~ source_mapping_keys() | join(', ')) -%}
    {%- endfor -%}
    {%- set columns = entry.get('columns') or {} -%}
    {%- if columns is not mapping -%}
        {%- do _input_error(where ~ '.columns', columns, 'expected a mapping from our column to yours, e.g. {transaction_id: order_key}') -%}
    {%- endif -%}
    {%- set declared = node.columns.keys() | list -%}
    {%- for name in columns if name not in declared -%}
        {%- do _input_error('column in ' ~ where ~ '.columns', name,
            "expected one of the source's columns: " ~ declared | join(', ')) -%}
    {%- endfor -%}
    {%- set rules = {} -%}
    {%- for name in declared -%}
        {%- do rules.update({name: _column_rule(where ~ '.columns.' ~ name, columns.get(name, name))}) -%}
    {%- endfor -%}
    {%- set distinct = checked_choice(where ~ '.distinct', entry.get('distinct', false), ['true', 'false']) == 'true' -%}
    {%- set location = entry.get('location') -%}
    {%- if location is not none -%}
        {%- if location is not string or location | trim == '' -%}
            {%- do _input_error(where ~ '.location', location, 'expected a file or directory path') -%}
        {%- endif -%}
        {%- set data_dir = var('data_dir', none) -%}
        {%- if data_dir and not location.startswith('/') and '://' not in location -%}
            {%- set location = (data_dir | string).rstrip('/') ~ '/' ~ location -%}
        {%- endif -%}
    {%- endif -%}
    {{ return({'location': location, 'format': entry.get('format'), 'options': entry.get('options'),
               'distinct': distinct, 'rules': rules}) }}
{% endmacro %}


{#- One column's rule, validated: {column|value|expression: ..., formats, separators}. -#}
{% macro _column_rule(where, rule) %}
    {%- if rule is string -%}
        {%- set rule = {'column': rule} -%}
    {%- endif -%}
    {%- if rule is not mapping -%}
        {%- do _input_error(where, rule, 'expected your column name or a mapping such as {column: total, decimal_separator: ","}') -%}
    {%- endif -%}
    {%- for key in rule if key not in column_rule_keys() -%}
        {%- do _input_error('key of ' ~ where, key, 'expected one of ' ~ column_rule_keys() | join(', ')) -%}
    {%- endfor -%}
    {%- set sources = rule.keys() | select('in', ['column', 'value', 'expression']) | list -%}
    {%- if sources | length != 1 -%}
        {%- do _input_error(where, rule, 'expected exactly one of column, value, expression') -%}
    {%- endif -%}
    {%- if 'column' in rule and (rule.column is not string or rule.column | trim == ''
        or '`' in rule.column or (rule.column | length) > 200) -%}
        {%- do _input_error(where ~ '.column', rule.column, 'expected the name of a column of your files') -%}
    {%- endif -%}
    {%- if 'value' in rule and (rule.value is mapping or (rule.value is iterable and rule.value is not string)) -%}
        {%- do _input_error(where ~ '.value', rule.value, 'expected a constant (string, number or null)') -%}
    {%- endif -%}
    {%- if 'expression' in rule and (rule.expression is not string or rule.expression | trim == '' or ';' in rule.expression) -%}
        {%- do _input_error(where ~ '.expression', rule.expression, 'expected one Spark SQL expression over your columns') -%}
    {%- endif -%}
    {%- set formats = rule.get('formats') or [] -%}
    {%- set formats = [formats] if formats is string else formats -%}
    {%- for pattern in formats if pattern is not string or pattern | trim == '' -%}
        {%- do _input_error(where ~ '.formats', pattern, "expected datetime patterns such as yyyy-MM-dd'T'HH:mm:ssXXX, or epoch_seconds / epoch_millis") -%}
    {%- endfor -%}
    {%- for key in ['decimal_separator', 'thousands_separator'] if rule.get(key) is not none -%}
        {%- set separator = rule.get(key) | string -%}
        {%- if (separator | length) != 1 or modules.re.fullmatch('[0-9+-]', separator) is not none -%}
            {%- do _input_error(where ~ '.' ~ key, rule.get(key), 'expected one character such as , or .') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if rule.get('decimal_separator') is not none and rule.get('decimal_separator') == rule.get('thousands_separator') -%}
        {%- do _input_error(where, rule, 'expected different decimal and thousands separators') -%}
    {%- endif -%}
    {%- set checked = {'formats': formats} -%}
    {%- for key in rule if key != 'formats' -%}
        {%- do checked.update({key: rule[key] | string if key.endswith('separator') else rule[key]}) -%}
    {%- endfor -%}
    {{ return(checked) }}
{% endmacro %}


{#- The rule as a Spark SQL string expression over the files table. -#}
{% macro mapped_column_sql(rule) %}
    {%- if 'column' in rule -%}
        {%- set raw = 'cast(`' ~ rule.column ~ '` as string)' -%}
    {%- elif 'value' in rule -%}
        {%- set raw = 'cast(null as string)' if rule.value is none else sql_string_literal(rule.value | string) -%}
    {%- else -%}
        {%- set raw = 'cast((' ~ rule.expression ~ ') as string)' -%}
    {%- endif -%}
    {%- set expression = raw -%}
    {%- if rule.get('decimal_separator') is not none or rule.get('thousands_separator') is not none -%}
        {%- set number = 'trim(' ~ raw ~ ')' -%}
        {%- if rule.get('thousands_separator') is not none -%}
            {%- set number = 'replace(' ~ number ~ ', ' ~ sql_string_literal(rule.thousands_separator) ~ ", '')" -%}
        {%- endif -%}
        {%- if rule.get('decimal_separator') is not none -%}
            {%- set number = 'replace(' ~ number ~ ', ' ~ sql_string_literal(rule.decimal_separator) ~ ", '.')" -%}
        {%- endif -%}
        {%- set expression = 'case when try_cast(' ~ number ~ ' as decimal(38, 9)) is not null then '
            ~ number ~ ' else ' ~ raw ~ ' end' -%}
    {%- endif -%}
    {%- if rule.formats -%}
        {#- Tried in order; the first that parses gives 'yyyy-MM-dd HH:mm:ss' text (UTC session),
            which staging casts to a timestamp or a date. -#}
        {%- set text = 'trim(' ~ expression ~ ')' -%}
        {%- set parsed = [] -%}
        {%- for pattern in rule.formats -%}
            {%- if pattern == 'epoch_seconds' or pattern == 'epoch_millis' -%}
                {%- set unit, limit = ('seconds', 253402300799) if pattern == 'epoch_seconds' else ('millis', 253402300799999) -%}
                {%- set number = 'try_cast(' ~ text ~ ' as bigint)' -%}
                {%- do parsed.append('cast(timestamp_' ~ unit ~ '(case when abs(' ~ number ~ ') <= ' ~ limit
                    ~ ' then ' ~ number ~ ' end) as string)') -%}
            {%- else -%}
                {%- do parsed.append('cast(try_to_timestamp(' ~ text ~ ', ' ~ sql_string_literal(pattern) ~ ') as string)') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set expression = 'coalesce(' ~ parsed | join(', ') ~ ', ' ~ expression ~ ')' -%}
    {%- endif -%}
    {{ return(expression) }}
{% endmacro %}


{#- The file columns a mapping reads: stops the run naming each missing one and the fix. -#}
{% macro check_mapped_columns(spec, file_columns) %}
    {%- set found = file_columns | map('first') | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for name, rule in spec.mapping.rules.items() if 'column' in rule and rule.column | lower not in found -%}
        {%- do missing.append(name ~ " <- '" ~ rule.column ~ "'") -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- do exceptions.raise_compiler_error(
            "The " ~ spec.format ~ " files of " ~ spec.label ~ " at '" ~ spec.location
            ~ "' have no column for: " ~ missing | join(', ') ~ ". Their columns are: "
            ~ file_columns | map('first') | join(', ') ~ ". Map each of ours to one of yours in var "
            ~ "source_mappings, e.g. {" ~ spec.name ~ ": {columns: {" ~ missing[0].split(' ')[0]
            ~ ": <your column>}}}, or give a constant ({value: ...}) or an expression ({expression: ...}).") -%}
    {%- endif -%}
{% endmacro %}


{#- `dbt run-operation check_source_mappings --vars ...`: validates var source_mappings (and every
    file source's meta.external) without touching Spark. -#}
{% macro check_source_mappings() %}
    {%- do check_cli_var_names() -%}
    {%- for node in graph.sources.values() if node.meta.get('external') -%}
        {%- do external_source_spec(node) -%}
    {%- endfor -%}
    {{ log('source_mappings: valid', info=True) }}
{% endmacro %}
