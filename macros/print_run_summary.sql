{#- `dbt run-operation print_run_summary`: where the marts are and what they hold. -#}
{% macro print_run_summary() %}
    {%- set sales = ref('rpt_sales_by_segment') -%}
    {%- set quarantine = ref('quarantine_transactions') -%}
    {%- set segments = run_query(
        'select purchase_segment, transaction_count, customer_count, avg_purchase, total_sales'
        ~ ' from ' ~ sales ~ ' order by total_sales desc') -%}
    {%- set rejected = run_query(
        'select rejection_reason, count(*) as row_count from ' ~ quarantine
        ~ ' group by rejection_reason order by rejection_reason') -%}
    {#- The mart is a view over its current version (docs/reliability.md): its files are there. -#}
    {%- set version = spark_oss_published(adapter.get_relation(sales.database, sales.schema, sales.identifier)).version or sales -%}
    {%- set location = run_query('describe table extended ' ~ version).rows
        | selectattr(0, 'equalto', 'Location') | map(attribute=1) | first -%}

    {{ print('') }}
    {{ print('Marts are in schema ' ~ sales.schema ~ ' (current version of ' ~ sales.identifier ~ ': ' ~ location ~ ')') }}
    {{ print('') }}
    {{ print('%-14s %12s %10s %14s %18s' % ('segment', 'purchases', 'customers', 'avg_purchase', 'total_sales')) }}
    {%- set totals = {'purchases': 0, 'sales': 0} -%}
    {%- for row in segments.rows %}
        {{ print('%-14s %12d %10d %14.2f %18.2f' % (row[0], row[1], row[2], row[3], row[4])) }}
        {%- do totals.update({'purchases': totals.purchases + row[1], 'sales': totals.sales + row[4]}) -%}
    {%- endfor %}
    {{ print('%-14s %12d %10s %14s %18.2f' % ('total', totals.purchases, '', '', totals.sales)) }}
    {{ print('') }}
    {%- if rejected.rows | length == 0 %}
        {{ print('Quarantine: no rejected transactions.') }}
    {%- else %}
        {{ print('Quarantined transactions (' ~ quarantine ~ '):') }}
        {%- for row in rejected.rows %}
            {{ print('  %-26s %10d' % (row[0], row[1])) }}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
