-- A view, not the folder's table: one filter and one CASE over int_transactions_validated
-- (cached for the run); a table would write and re-read every accepted row for nothing
-- (make bench measures it).
{{ config(materialized='view') }}

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
