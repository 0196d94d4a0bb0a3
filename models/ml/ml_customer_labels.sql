{#- The SQL twin of spark_analytics.ml.labels.customer_labels (tests compare the two). -#}
{%- set high_value_threshold = validated_number('high_value_threshold') -%}

with

purchases as (

    select * from {{ ref('fct_purchases') }}

),

label_windows as (

    select * from {{ ref('ml_snapshot_dates') }}
    where label_window_end is not null

),

population as (

    -- The customers of each snapshot: those with features (a purchase before the snapshot date).
    select
        snapshot,
        customer_id

    from {{ ref('ml_customer_features') }}

),

window_purchases as (

    select {{ spark_hints() }}
        label_windows.snapshot,
        purchases.customer_id,
        count(*) as purchases_in_window,
        count_if(purchases.purchase_amount > {{ high_value_threshold }}) as high_value_in_window

    from purchases
    inner join label_windows
        on
            purchases.purchase_date >= label_windows.as_of_date
            and purchases.purchase_date < label_windows.label_window_end
    group by label_windows.snapshot, purchases.customer_id

),

final as (

    select
        population.snapshot,
        label_windows.as_of_date,
        population.customer_id,
        label_windows.label_window_end,
        coalesce(window_purchases.purchases_in_window, 0) as purchases_in_window,
        cast(coalesce(window_purchases.purchases_in_window, 0) > 0 as int) as label,
        cast(
            coalesce(window_purchases.high_value_in_window, 0) > 0 as int
        ) as label_high_value

    from population
    inner join label_windows
        on population.snapshot = label_windows.snapshot
    left join window_purchases
        on
            population.snapshot = window_purchases.snapshot
            and population.customer_id = window_purchases.customer_id

)

select * from final
