{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        on_schema_change='fail',
    )
}}

{#-
    Every run rewrites whole event_date partitions: each date that received a transaction
    ingested after this table's newest `max_ingested_at` (all dates on a first run or a full
    refresh), plus the dates within var `late_event_lookback_hours` of the newest window.
    A date is recomputed from all of its transactions, so a late event is counted however late it
    is; a duplicate arriving later never wins the dedup in staging, so it is never counted twice.
-#}
{%- set lookback_hours = validated_integer('late_event_lookback_hours', min_value=0) -%}
{%- set no_previous_run -%}
    (select cast(null as timestamp) as max_ingested_at, cast(null as timestamp) as window_end)
{%- endset -%}
{%- set previous_run = this if is_incremental() else no_previous_run -%}

with

transactions as (

    select * from {{ ref('int_event_transactions') }}

),

current_state as (

    select
        max(previous_run.max_ingested_at) as watermark,
        max(previous_run.window_end) as latest_window_end

    from {{ previous_run }} as previous_run

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
        windowed.merchant_id,
        windowed.event_window.start as window_start,
        windowed.event_window.end as window_end,
        count(*) as transaction_count,
        sum(windowed.purchase_amount) as total_amount,
        max(windowed.ingested_at) as max_ingested_at,
        windowed.event_date

    from windowed
    group by windowed.merchant_id, windowed.event_window, windowed.event_date

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
