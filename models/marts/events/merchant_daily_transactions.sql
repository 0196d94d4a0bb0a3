{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}

{#- Re-derives the days whose hourly partitions were rewritten since this table's last run. -#}

with

hourly as (

    select * from {{ ref('merchant_hourly_transactions') }}

),

{% if is_incremental() %}

current_state as (

    select max(max_ingested_at) as watermark from {{ this }}

),

affected_dates as (

    select distinct hourly.event_date

    from hourly
    cross join current_state
    where
        current_state.watermark is null
        or hourly.max_ingested_at > current_state.watermark

),

in_scope as (

    select hourly.*

    from hourly
    left semi join affected_dates
        on hourly.event_date = affected_dates.event_date

),

{% else %}

in_scope as (

    select * from hourly

),

{% endif %}

aggregated as (

    select
        merchant_id,
        count(*) as active_hours,
        sum(transaction_count) as transaction_count,
        sum(total_amount) as total_amount,
        max(max_ingested_at) as max_ingested_at,
        event_date

    from in_scope
    group by merchant_id, event_date

),

final as (

    select
        merchant_id,
        active_hours,
        transaction_count,
        cast(total_amount as decimal(18, 2)) as total_amount,
        cast(total_amount / transaction_count as decimal(18, 2)) as avg_amount,
        max_ingested_at,
        event_date

    from aggregated

)

select * from final
