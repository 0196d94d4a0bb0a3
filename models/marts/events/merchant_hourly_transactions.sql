{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}

{#-
    Incremental runs recompute whole event_date partitions: every date that received a
    transaction ingested after this table's newest `max_ingested_at`, plus (optionally) the
    dates within `late_event_lookback_hours` of the newest window. A late event therefore
    re-derives its date from all of its rows, however late it is, and a duplicate that arrives
    later never wins the dedup in staging, so the result equals a full refresh.
-#}
{%- set lookback_hours = var('late_event_lookback_hours', 0) | int -%}

with

transactions as (

    select * from {{ ref('stg_events__transactions') }}

),

{% if is_incremental() %}

current_state as (

    select
        max(max_ingested_at) as watermark,
        max(window_end) as latest_window_end

    from {{ this }}

),

new_dates as (

    select distinct transactions.event_date

    from transactions
    cross join current_state
    where
        current_state.watermark is null
        or transactions.ingested_at > current_state.watermark

),

lookback_dates as (

    select distinct transactions.event_date

    from transactions
    cross join current_state
    where
        {{ lookback_hours }} > 0
        and transactions.event_time
        >= current_state.latest_window_end - interval {{ lookback_hours }} hours

),

affected_dates as (

    select new_dates.event_date from new_dates
    union
    select lookback_dates.event_date from lookback_dates

),

in_scope as (

    select transactions.*

    from transactions
    left semi join affected_dates
        on transactions.event_date = affected_dates.event_date

),

{% else %}

in_scope as (

    select * from transactions

),

{% endif %}

windowed as (

    select
        merchant_id,
        window(event_time, '1 hour') as event_window,
        cast(purchase_amount as decimal(18, 2)) as purchase_amount,
        ingested_at,
        event_date

    from in_scope

),

aggregated as (

    select
        merchant_id,
        event_window.start as window_start,
        event_window.end as window_end,
        count(*) as transaction_count,
        sum(purchase_amount) as total_amount,
        max(ingested_at) as max_ingested_at,
        event_date

    from windowed
    group by merchant_id, event_window, event_date

),

final as (

    select
        merchant_id,
        window_start,
        window_end,
        transaction_count,
        cast(total_amount as decimal(18, 2)) as total_amount,
        cast(total_amount / transaction_count as decimal(18, 2)) as avg_amount,
        max_ingested_at,
        event_date

    from aggregated

)

select * from final
