with

customers as (

    select * from {{ ref('stg_raw__customers') }}

),

final as (

    select
        customer_id,
        customer_name,
        email,
        country_code,
        signup_date

    from customers
    where rejection_reason is null

)

select * from final
