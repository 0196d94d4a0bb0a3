with

merchants as (

    select * from {{ ref('dim_merchants', v=2) }}

),

final as (

    select
        merchant_id,
        merchant_name,
        category_code,
        category_name as category,
        country_code,
        transaction_count,
        customer_count,
        total_sales,
        avg_purchase,
        high_value_share

    from merchants

)

select * from final
