{#- The row and dedup checks of the rejection-reason contract (dbt_project.yml). -#}
{%- set checks = {
    'malformed_row': 'raw_record is not null',
    'missing_customer_id': 'customer_id is null',
    'duplicate_customer_id': 'count(*) over (partition by customer_id) > 1',
} -%}

with

source as (

    select * from {{ source('raw', 'customers') }}

),

typed as (

    select
        nullif(trim(customer_id), '') as customer_id,
        trim(customer_name) as customer_name,
        lower(trim(email)) as email,
        upper(trim(country)) as country_code,
        {{ parse_datetime('trim(signup_date)', 'date') }} as signup_date,
        _corrupt_record as raw_record

    from source

),

flagged as (

    select
        *,
        {{ first_failing_check('customers', ['row', 'dedup'], checks) }} as rejection_reason

    from typed

)

select * from flagged
