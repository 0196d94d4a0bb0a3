with

validated_transactions as (

    select * from {{ ref('int_transactions_validated') }}

),

final as (

    select
        'raw.transactions' as source_relation,
        rejection_reason,
        transaction_id,
        customer_id,
        merchant_id,
        raw_purchase_amount,
        raw_event_time,
        raw_record

    from validated_transactions
    where rejection_reason is not null

)

select * from final
