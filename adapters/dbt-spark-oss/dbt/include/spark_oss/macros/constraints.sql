{#-- Enforced model contracts on plain Parquet. dbt checks column names and types when it builds
     (dbt-spark's create_table_as, `contract: {enforced: true}`); Parquet tables cannot hold
     constraints, so dbt-spark leaves `not_null` and `check` unenforced there. Here every row of
     a new version is checked before the version is published:
     - A version built from SQL is checked while it is written: its create selects the contract's
       columns through one expression that raises an error on a row breaking any constraint
       (spark_oss_contract_checked_select), so a build that passes reads its result once. That
       expression is in the create's top projection, which Spark neither pushes below a join or
       filter nor prunes, so it sees exactly the rows written.
     - A version written by a Python model is checked after its write, by one query that counts
       the violations of every constraint.
     Any violation fails the model with the constraint's name, its expression, the number of rows
     and a sample of their keys (for SQL, counted on the model's query once its create has
     failed), no version is published and the previous one stays (publish.sql).
     `primary_key`, `unique` and `foreign_key` are left to data tests, as on every warehouse that
     does not enforce them. --#}

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


{#-- The SELECT a version's create reads when the model's contract is enforced: the contract's
     columns in its order (as dbt's get_select_subquery), the first one through a CASE that
     raises CONTRACT_VIOLATION on a row that breaks any constraint. --#}
{% macro spark_oss_contract_checked_select(sql) %}
  {%- set checks = spark_oss_contract_checks(model) -%}
  {%- set violated = [] -%}
  {%- for check in checks -%}{%- do violated.append('(' ~ check.violated ~ ')') -%}{%- endfor -%}
  {%- set columns = [] -%}
  {%- for column in model['columns'].values() -%}
    {%- set name = adapter.quote(column.name) if column.get('quote') else column.name -%}
    {%- if loop.first and violated -%}
      {%- do columns.append('case when ' ~ violated | join(' or ') ~ ' then raise_error('
            ~ spark_oss_string_literal(spark_oss_contract_violation_marker() ~ ' in a row of '
            ~ model.name) ~ ') else ' ~ name ~ ' end as ' ~ name) -%}
    {%- else -%}
      {%- do columns.append(name) -%}
    {%- endif -%}
  {%- endfor %}
    select {{ columns | join(', ') }}
    from (
        {{ sql }}
    ) as model_subq
{%- endmacro %}


{#-- The start of the error the checked create raises on a row that breaks the contract. --#}
{% macro spark_oss_contract_violation_marker() %}
  {{- return('SPARK_OSS_CONTRACT_VIOLATION') -}}
{% endmacro %}


{#-- A version with the contract enforced on every row it holds; after it, the version exists.
     - From SQL: this is the materialization's 'main' statement, the create (create_table_as)
       run like dbt's statement('main'), which checks every row it writes. A create that failed
       on CONTRACT_VIOLATION is reported by spark_oss_enforce_contract over the query it was
       built from, and `scratch` (a relation that query reads) is dropped with the version.
     - From Python: dbt runs a Python model's code only from a statement of the materialization
       itself, so the version is already written; its rows are counted here. --#}
{% macro spark_oss_checked_version(version, sql, language='sql', scratch=none) %}
  {%- if language == 'python' -%}
    {% do spark_oss_enforce_contract(version) %}
    {{ return(none) }}
  {%- endif -%}
  {%- set create = create_table_as(False, version, sql, 'sql') -%}
  {{ log('Writing runtime sql for node "' ~ model.unique_id ~ '"') }}
  {{ write(create) }}
  {%- set response, violation = adapter.spark_oss_execute_unless(create, spark_oss_contract_violation_marker()) -%}
  {%- if violation -%}
    {%- set dropped = [version] + ([scratch] if scratch is not none else []) -%}
    {% do spark_oss_enforce_contract('(' ~ sql ~ ') as spark_oss_contract_source', dropped) %}
    {#- Reached when counting found no row that breaks it: the query is not deterministic. -#}
    {%- for relation in dropped -%}{% do adapter.drop_relation(relation) %}{%- endfor -%}
    {% do exceptions.raise_compiler_error("Contract of " ~ model.name ~ " violated, nothing "
          ~ "published (the previous version stays): a row broke it while the version was "
          ~ "written, and no row of the query breaks it when counted again (is the query "
          ~ "nondeterministic?): " ~ violation) %}
  {%- endif -%}
  {{ store_result('main', response=response) }}
{% endmacro %}


{#-- Counts the violations of every constraint in `rows` (a relation or a subquery); on any, drops
     the relations `dropped` (by default `rows`) and fails the model naming each broken
     constraint, its rows and sample keys. --#}
{% macro spark_oss_enforce_contract(rows, dropped=none) %}
  {%- set contract = config.get('contract') -%}
  {%- if not (contract and contract.enforced) -%}{{ return(none) }}{%- endif -%}
  {%- set checks = spark_oss_contract_checks(model) -%}
  {%- if not checks -%}{{ return(none) }}{%- endif -%}
  {%- call statement('spark_oss_contract_counts', fetch_result=True) -%}
    select
      {%- for check in checks %}
      count_if({{ check.violated }}) as violations_{{ loop.index }}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ rows }}
  {%- endcall -%}
  {%- set counts = load_result('spark_oss_contract_counts').table.rows[0] -%}
  {%- set key = spark_oss_contract_key(model) -%}
  {%- set failures = [] -%}
  {%- for check in checks -%}
    {%- set violations = counts[loop.index0] | int -%}
    {%- if violations > 0 -%}
    {%- set sample = run_query('select ' ~ key | map('string') | join(', ') ~ ' from ' ~ rows
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
    {%- for relation in (dropped if dropped is not none else [rows]) -%}
      {% do adapter.drop_relation(relation) %}
    {%- endfor -%}
    {% do exceptions.raise_compiler_error(
          "Contract of " ~ model.name ~ " violated, nothing published (the previous version stays): "
          ~ failures | join('; ')) %}
  {%- endif -%}
{% endmacro %}
