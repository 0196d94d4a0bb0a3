with

transactions as (

    select * from {{ ref('stg_events__transactions') }}

),

final as (

    select
        transaction_id,
        customer_id,
        merchant_id,
        purchase_amount,
        event_time,
        event_date,
        source_file,
        ingested_at,
        ingest_batch_id,
        copies_landed

    from transactions

)

select * from final
