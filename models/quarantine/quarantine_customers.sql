with

customers as (

    select * from {{ ref('stg_raw__customers') }}

),

final as (

    select
        'raw.customers' as source_relation,
        rejection_reason,
        customer_id,
        customer_name,
        email,
        country_code,
        signup_date,
        raw_record

    from customers
    where rejection_reason is not null

)

select * from final
