with

purchases as (

    select * from {{ ref('fct_purchases') }}

),

final as (

    select
        purchase_segment,
        count(*) as transaction_count,
        count(distinct customer_id) as customer_count,
        avg(purchase_amount) as avg_purchase,
        sum(purchase_amount) as total_sales,
        min(purchase_amount) as min_purchase,
        max(purchase_amount) as max_purchase

    from purchases
    group by purchase_segment

)

select * from final
