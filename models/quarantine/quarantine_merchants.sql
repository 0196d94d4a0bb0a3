with

merchants as (

    select * from {{ ref('stg_raw__merchants') }}

),

final as (

    select
        'raw.merchants' as source_relation,
        rejection_reason,
        merchant_id,
        merchant_name,
        category_code,
        country_code,
        raw_record

    from merchants
    where rejection_reason is not null

)

select * from final
