with

merchants as (

    select * from {{ ref('int_merchants_accepted') }}

),

categories as (

    select * from {{ ref('merchant_categories') }}

),

purchases as (

    select * from {{ ref('fct_purchases') }}

),

merchant_sales as (

    select
        merchant_id,
        count(*) as transaction_count,
        count(distinct customer_id) as customer_count,
        sum(purchase_amount) as total_sales,
        avg(purchase_amount) as avg_purchase,
        avg(
            case when purchase_segment = 'High Value' then 1.0 else 0.0 end
        ) as high_value_share

    from purchases
    group by merchant_id

),

final as (

    select {{ spark_hints() }}
        merchants.merchant_id,
        merchants.merchant_name,
        merchants.category_code,
        categories.category_name,
        merchants.country_code,
        coalesce(merchant_sales.transaction_count, 0) as transaction_count,
        coalesce(merchant_sales.customer_count, 0) as customer_count,
        coalesce(merchant_sales.total_sales, 0) as total_sales,
        merchant_sales.avg_purchase,
        merchant_sales.high_value_share

    from merchants
    left join merchant_sales
        on merchants.merchant_id = merchant_sales.merchant_id
    left join categories
        on merchants.category_code = categories.category_code

)

select * from final
