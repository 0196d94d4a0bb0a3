with

purchases as (

    select * from {{ ref('int_purchases_segmented') }}

),

merchants as (

    select * from {{ ref('int_merchants_accepted') }}

),

categories as (

    select * from {{ ref('merchant_categories') }}

),

joined as (

    select {{ spark_hints() }}
        purchases.transaction_id,
        purchases.customer_id,
        purchases.merchant_id,
        merchants.category_code,
        categories.category_name,
        purchases.purchase_amount,
        purchases.purchase_segment,
        purchases.event_time,
        cast(purchases.event_time as date) as purchase_date,
        date_format(purchases.event_time, 'yyyy-MM') as purchase_month

    from purchases
    inner join merchants
        on purchases.merchant_id = merchants.merchant_id
    left join categories
        on merchants.category_code = categories.category_code

),

final as (

    select * from joined

)

select * from final
