{#-
    var ml_cutoff_date ('YYYY-MM-DD'): the test snapshot date. Default: the last event date minus
    (ml_horizon_days - 1), so the test labels cover exactly the last ml_horizon_days days.
-#}
{%- set cutoff_date = validated_date('ml_cutoff_date') -%}
{%- set horizon_days = validated_integer('ml_horizon_days', min_value=1) -%}

with

purchases as (

    select * from {{ ref('fct_purchases') }}

),

bounds as (

    select max(purchase_date) as last_event_date
    from purchases

),

cutoff as (

    select
        last_event_date,
        {% if cutoff_date -%}
            cast('{{ cutoff_date }}' as date) as cutoff_date
        {%- else -%}
            date_sub(last_event_date, {{ horizon_days - 1 }}) as cutoff_date
        {%- endif %}

    from bounds

),

train_snapshot as (

    select
        'train' as snapshot,
        date_sub(cutoff_date, {{ horizon_days }}) as as_of_date,
        cutoff_date as label_window_end,
        cutoff_date,
        last_event_date

    from cutoff

),

test_snapshot as (

    select
        'test' as snapshot,
        cutoff_date as as_of_date,
        date_add(cutoff_date, {{ horizon_days }}) as label_window_end,
        cutoff_date,
        last_event_date

    from cutoff

),

score_snapshot as (

    select
        'score' as snapshot,
        date_add(last_event_date, 1) as as_of_date,
        cast(null as date) as label_window_end,
        cutoff_date,
        last_event_date

    from cutoff

),

final as (

    select * from train_snapshot
    union all
    select * from test_snapshot
    union all
    select * from score_snapshot

)

select * from final
