with

source as (

    select * from {{ source('events', 'bronze_transactions') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by
                ingested_at asc,
                ingest_batch_id asc,
                source_file asc,
                event_time asc,
                purchase_amount asc,
                merchant_id asc,
                customer_id asc
        ) as arrival_rank,
        count(*) over (partition by transaction_id) as copies_landed

    from source

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

    from ranked
    where arrival_rank = 1

)

select * from final
