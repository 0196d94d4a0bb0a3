with

source as (

    select * from {{ source('raw', 'customers') }}

),

typed as (

    select
        nullif(trim(customer_id), '') as customer_id,
        trim(customer_name) as customer_name,
        lower(trim(email)) as email,
        upper(trim(country)) as country_code,
        try_cast(trim(signup_date) as date) as signup_date,
        _corrupt_record as raw_record

    from source

),

flagged as (

    select
        *,
        case
            when raw_record is not null then 'malformed_row'
            when customer_id is null then 'missing_customer_id'
            when
                count(*) over (partition by customer_id) > 1
                then 'duplicate_customer_id'
        end as rejection_reason

    from typed

)

select * from flagged
