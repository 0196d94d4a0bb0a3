with

validated_transactions as (

    select * from {{ ref('int_transactions_validated') }}

),

accepted as (

    select
        transaction_id,
        customer_id,
        merchant_id,
        purchase_amount,
        event_time

    from validated_transactions
    where rejection_reason is null

),

final as (

    select
        *,
        {{ purchase_segment('purchase_amount') }} as purchase_segment

    from accepted

)

select * from final
