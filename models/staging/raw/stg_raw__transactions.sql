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
        try_cast(trim(event_time) as timestamp) as event_time,
        purchase_amount as raw_purchase_amount,
        event_time as raw_event_time,
        _corrupt_record as raw_record

    from source

),

flagged as (

    select
        *,
        -- First failing check wins, so every rejected row carries exactly one reason.
        case
            when raw_record is not null then 'malformed_row'
            when transaction_id is null then 'missing_transaction_id'
            when customer_id is null then 'missing_customer_id'
            when merchant_id is null then 'missing_merchant_id'
            when nullif(trim(raw_purchase_amount), '') is null then 'null_amount'
            when purchase_amount is null then 'non_numeric_amount'
            when purchase_amount < 0 then 'negative_amount'
            when event_time is null then 'unparseable_event_time'
        end as row_rejection_reason

    from typed

)

select * from flagged
