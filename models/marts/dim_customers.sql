with

customers as (

    select * from {{ ref('int_customers_accepted') }}

),

purchases as (

    select * from {{ ref('fct_purchases') }}

),

as_of as (

    -- Recency is measured from the last event in the data, so reruns on the same files agree.
    select max(purchase_date) as as_of_date from purchases

),

customer_purchases as (

    select
        customer_id,
        count(*) as purchase_count,
        sum(purchase_amount) as lifetime_spend,
        avg(purchase_amount) as avg_purchase,
        min(event_time) as first_purchase_at,
        max(event_time) as last_purchase_at

    from purchases
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.country_code,
        customers.signup_date,
        coalesce(customer_purchases.purchase_count, 0) as purchase_count,
        coalesce(customer_purchases.lifetime_spend, 0) as lifetime_spend,
        customer_purchases.avg_purchase,
        customer_purchases.first_purchase_at,
        customer_purchases.last_purchase_at,
        datediff(
            as_of.as_of_date, cast(customer_purchases.last_purchase_at as date)
        ) as recency_days,
        {{ purchase_segment('customer_purchases.avg_purchase') }} as customer_segment

    from customers
    left join customer_purchases
        on customers.customer_id = customer_purchases.customer_id
    cross join as_of

)

select * from final
