{#- The SQL twin of spark_analytics.ml.features.customer_features (tests compare the two). -#}
{%- set high_value_threshold = validated_number('high_value_threshold') -%}

with

purchases as (

    select * from {{ ref('fct_purchases') }}

),

snapshots as (

    select * from {{ ref('ml_snapshot_dates') }}

),

categories as (

    select * from {{ ref('merchant_categories') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

purchase_history as (

    -- Each purchase once per snapshot it precedes: no feature sees its snapshot date or later.
    select {{ spark_hints() }}
        snapshots.snapshot,
        snapshots.as_of_date,
        purchases.customer_id,
        purchases.purchase_amount,
        purchases.purchase_date,
        coalesce(categories.is_discretionary, false) as is_discretionary

    from purchases
    inner join snapshots
        on purchases.purchase_date < snapshots.as_of_date
    left join categories
        on purchases.category_code = categories.category_code

),

customer_history as (

    select
        snapshot,
        as_of_date,
        customer_id,
        max(purchase_date) as last_purchase_date,
        min(purchase_date) as first_purchase_date,
        count(*) as purchase_count,
        count_if(purchase_date >= date_sub(as_of_date, 30)) as purchase_count_30d,
        count_if(purchase_date >= date_sub(as_of_date, 90)) as purchase_count_90d,
        cast(sum(purchase_amount) as double) as total_spend,
        cast(
            coalesce(
                sum(
                    case
                        when purchase_date >= date_sub(as_of_date, 90) then purchase_amount
                    end
                ),
                0
            ) as double
        ) as spend_90d,
        cast(avg(purchase_amount) as double) as avg_amount,
        cast(max(purchase_amount) as double) as max_amount,
        count_if(purchase_amount > {{ high_value_threshold }}) / count(*) as high_value_share,
        count_if(is_discretionary) / count(*) as discretionary_share

    from purchase_history
    group by snapshot, as_of_date, customer_id

),

final as (

    select
        customer_history.snapshot,
        customer_history.as_of_date,
        customer_history.customer_id,
        datediff(
            customer_history.as_of_date, customer_history.last_purchase_date
        ) as recency_days,
        datediff(
            customer_history.as_of_date,
            coalesce(customers.signup_date, customer_history.first_purchase_date)
        ) as tenure_days,
        customer_history.purchase_count,
        customer_history.purchase_count_30d,
        customer_history.purchase_count_90d,
        customer_history.total_spend,
        customer_history.spend_90d,
        customer_history.avg_amount,
        customer_history.max_amount,
        customer_history.high_value_share,
        customer_history.discretionary_share

    from customer_history
    left join customers
        on customer_history.customer_id = customers.customer_id

)

select * from final
