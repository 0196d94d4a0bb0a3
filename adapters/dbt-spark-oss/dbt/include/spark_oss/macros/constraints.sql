{#-- Enforced model contracts on plain Parquet. dbt checks column names and types when it builds
     (dbt-spark's create_table_as, `contract: {enforced: true}`); Parquet tables cannot hold
     constraints, so dbt-spark leaves `not_null` and `check` unenforced there. Here the new
     version is checked before it is published: one query counts the violations of every
     constraint; any violation drops the version and fails the model with the constraint's name,
     its expression, the number of rows and a sample of their keys, and the previous version stays
     published (publish.sql). `primary_key`, `unique` and `foreign_key` are left to data tests,
     as on every warehouse that does not enforce them. --#}

{% macro spark_oss_contract_checks(model) %}
  {%- set checks = [] -%}
  {%- for column in model.columns.values() -%}
    {%- for constraint in column.constraints or [] -%}
      {%- if constraint.type == 'not_null' -%}
        {%- do checks.append({'name': constraint.name or ('not_null_' ~ column.name),
              'rule': column.name ~ ' is not null',
              'violated': adapter.quote(column.name) ~ ' is null'}) -%}
      {%- elif constraint.type == 'check' -%}
        {%- do checks.append({'name': constraint.name or ('check_' ~ column.name ~ '_' ~ loop.index),
              'rule': constraint.expression,
              'violated': 'not coalesce((' ~ constraint.expression ~ '), true)'}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- for constraint in model.constraints or [] if constraint.type == 'check' -%}
    {%- do checks.append({'name': constraint.name or ('check_' ~ loop.index),
          'rule': constraint.expression,
          'violated': 'not coalesce((' ~ constraint.expression ~ '), true)'}) -%}
  {%- endfor -%}
  {{ return(checks) }}
{% endmacro %}


{#-- The columns that identify a row in the error message: the primary key, else the first column. --#}
{% macro spark_oss_contract_key(model) %}
  {%- for constraint in model.constraints or [] if constraint.type == 'primary_key' -%}
    {{ return(constraint.columns) }}
  {%- endfor -%}
  {%- for column in model.columns.values() -%}
    {%- for constraint in column.constraints or [] if constraint.type == 'primary_key' -%}
      {{ return([column.name]) }}
    {%- endfor -%}
  {%- endfor -%}
  {{ return((model.columns.keys() | list)[:1]) }}
{% endmacro %}


{% macro spark_oss_enforce_contract(version) %}
  {%- set contract = config.get('contract') -%}
  {%- if not (contract and contract.enforced) -%}{{ return(none) }}{%- endif -%}
  {%- set checks = spark_oss_contract_checks(model) -%}
  {%- if not checks -%}{{ return(none) }}{%- endif -%}
  {%- call statement('spark_oss_contract_counts', fetch_result=True) -%}
    select
      {%- for check in checks %}
      count_if({{ check.violated }}) as violations_{{ loop.index }}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ version }}
  {%- endcall -%}
  {%- set counts = load_result('spark_oss_contract_counts').table.rows[0] -%}
  {%- set key = spark_oss_contract_key(model) -%}
  {%- set failures = [] -%}
  {%- for check in checks -%}
    {%- set violations = counts[loop.index0] | int -%}
    {%- if violations > 0 -%}
    {%- set sample = run_query('select ' ~ key | map('string') | join(', ') ~ ' from ' ~ version
          ~ ' where ' ~ check.violated ~ ' limit 5') -%}
    {%- set keys = [] -%}
    {%- for row in sample.rows -%}
      {%- do keys.append(row.values() | map('string') | join('/')) -%}
    {%- endfor -%}
    {%- do failures.append(check.name ~ ' (' ~ check.rule ~ '): ' ~ violations ~ ' rows, e.g. '
          ~ key | join('/') ~ ' = ' ~ keys | join(', ')) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if failures -%}
    {% do adapter.drop_relation(version) %}
    {% do exceptions.raise_compiler_error(
          "Contract of " ~ model.name ~ " violated, nothing published (the previous version stays): "
          ~ failures | join('; ')) %}
  {%- endif -%}
{% endmacro %}
