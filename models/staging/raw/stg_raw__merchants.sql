{#- The row and dedup checks of the rejection-reason contract (dbt_project.yml). -#}
{%- set checks = {
    'malformed_row': 'raw_record is not null',
    'missing_merchant_id': 'merchant_id is null',
    'duplicate_merchant_id': 'count(*) over (partition by merchant_id) > 1',
} -%}

with

source as (

    select * from {{ source('raw', 'merchants') }}

),

typed as (

    select
        nullif(trim(merchant_id), '') as merchant_id,
        merchant_name,
        upper(trim(category_code)) as category_code,
        upper(trim(country)) as country_code,
        _corrupt_record as raw_record

    from source

),

flagged as (

    select
        *,
        {{ first_failing_check('merchants', ['row', 'dedup'], checks) }} as rejection_reason

    from typed

)

select * from flagged
