{#- The row-stage checks of the rejection-reason contract (dbt_project.yml, docs/contracts.md). -#}
{%- set row_checks = {
    'malformed_row': 'raw_record is not null',
    'missing_transaction_id': 'transaction_id is null',
    'missing_customer_id': 'customer_id is null',
    'missing_merchant_id': 'merchant_id is null',
    'null_amount': "nullif(trim(raw_purchase_amount), '') is null",
    'non_numeric_amount': 'purchase_amount is null',
    'negative_amount': 'purchase_amount < 0',
    'unparseable_event_time': 'event_time is null',
} -%}

with

source as (

    select * from {{ source('raw', 'transactions') }}

),

typed as (

    select
        nullif(trim(transaction_id), '') as transaction_id,
        nullif(trim(customer_id), '') as customer_id,
        nullif(trim(merchant_id), '') as merchant_id,
        try_cast(trim(purchase_amount) as decimal(18, 2)) as purchase_amount,
        {{ parse_datetime('trim(event_time)') }} as event_time,
        purchase_amount as raw_purchase_amount,
        event_time as raw_event_time,
        _corrupt_record as raw_record

    from source

),

flagged as (

    select
        *,
        -- First failing check wins (order: var rejection_reasons), one reason per rejected row.
        {{ first_failing_check('transactions', 'row', row_checks) }} as rejection_reason

    from typed

)

select * from flagged
