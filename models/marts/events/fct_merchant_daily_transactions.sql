{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}

{#-
    Rewrites the days whose hourly partitions were rewritten since this table's last run (all
    days on a first run or a full refresh); hourly rewrites whole days, so each day is complete.
-#}
{%- set no_previous_run -%}
    (select cast(null as timestamp) as max_ingested_at)
{%- endset -%}
{%- set previous_run = this if is_incremental() else no_previous_run -%}

with

hourly as (

    select * from {{ ref('fct_merchant_hourly_transactions') }}

),

current_state as (

    select max(previous_run.max_ingested_at) as watermark

    from {{ previous_run }} as previous_run

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
