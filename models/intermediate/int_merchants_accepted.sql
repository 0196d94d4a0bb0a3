with

merchants as (

    select * from {{ ref('stg_raw__merchants') }}

),

final as (

    select
        merchant_id,
        merchant_name,
        category_code,
        country_code

    from merchants
    where rejection_reason is null

)

select * from final
