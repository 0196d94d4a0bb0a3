{#-
    The reference and dedup stages of the rejection-reason contract (dbt_project.yml); the row
    stage ran in stg_raw__transactions. Each stage only sees rows that passed the earlier ones.
-#}
{%- set reference_checks = {
    'unknown_merchant_id': 'not is_known_merchant',
    'unknown_customer_id': 'not is_known_customer',
} -%}
{%- set dedup_checks = {
    'duplicate_transaction_id': 'occurrence_number > 1',
} -%}

with

transactions as (

    select * from {{ ref('stg_raw__transactions') }}

),

merchants as (

    select * from {{ ref('int_merchants_accepted') }}

),

customers as (

    select * from {{ ref('int_customers_accepted') }}

),

with_references as (

    select {{ spark_hints() }}
        transactions.transaction_id,
        transactions.customer_id,
        transactions.merchant_id,
        transactions.purchase_amount,
        transactions.event_time,
        transactions.raw_purchase_amount,
        transactions.raw_event_time,
        transactions.raw_record,
        transactions.rejection_reason as row_rejection_reason,
        merchants.merchant_id is not null as is_known_merchant,
        customers.customer_id is not null as is_known_customer

    from transactions
    left join merchants
        on transactions.merchant_id = merchants.merchant_id
    left join customers
        on transactions.customer_id = customers.customer_id

),

reference_checked as (

    select
        *,
        coalesce(
            row_rejection_reason,
            {{ first_failing_check('transactions', 'reference', reference_checks) }}
        ) as reference_rejection_reason

    from with_references

),

deduplicated as (

    select
        *,
        -- Among otherwise valid rows, the earliest occurrence of an id is kept; later copies
        -- are rejected as duplicates (identical copies are indistinguishable anyway).
        case
            when reference_rejection_reason is null
                then
                    row_number() over (
                        partition by transaction_id, reference_rejection_reason is null
                        order by event_time, purchase_amount, customer_id, merchant_id
                    )
        end as occurrence_number

    from reference_checked

),

final as (

    select
        transaction_id,
        customer_id,
        merchant_id,
        purchase_amount,
        event_time,
        raw_purchase_amount,
        raw_event_time,
        raw_record,
        coalesce(
            reference_rejection_reason,
            {{ first_failing_check('transactions', 'dedup', dedup_checks) }}
        ) as rejection_reason

    from deduplicated

)

select * from final
