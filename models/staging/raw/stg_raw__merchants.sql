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
        case
            when raw_record is not null then 'malformed_row'
            when merchant_id is null then 'missing_merchant_id'
            when
                count(*) over (partition by merchant_id) > 1
                then 'duplicate_merchant_id'
        end as rejection_reason

    from typed

)

select * from flagged
