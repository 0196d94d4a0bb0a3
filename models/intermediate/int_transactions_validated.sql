with

transactions as (

    select * from {{ ref('stg_raw__transactions') }}

),

merchants as (

    select * from {{ ref('stg_raw__merchants') }}
    where rejection_reason is null

),

customers as (

    select * from {{ ref('stg_raw__customers') }}
    where rejection_reason is null

),

with_references as (

    select {{ spark_hints() }}
        transactions.*,
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
            case
                when not is_known_merchant then 'unknown_merchant_id'
                when not is_known_customer then 'unknown_customer_id'
            end
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
            case when occurrence_number > 1 then 'duplicate_transaction_id' end
        ) as rejection_reason

    from deduplicated

)

select * from final
