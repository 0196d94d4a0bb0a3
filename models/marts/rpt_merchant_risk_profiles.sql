with

purchases as (

    select * from {{ ref('fct_purchases') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

merchants as (

    select * from {{ ref('dim_merchants') }}

),

scored_purchases as (

    select {{ spark_hints() }}
        purchases.merchant_id,
        {{ python_udf('transaction_risk_score') }}(
            cast(purchases.purchase_amount as double),
            hour(purchases.event_time),
            customers.country_code != merchants.country_code
        ) as risk_score

    from purchases
    inner join customers
        on purchases.customer_id = customers.customer_id
    inner join merchants
        on purchases.merchant_id = merchants.merchant_id

),

merchant_risk as (

    select
        merchant_id,
        count(*) as transaction_count,
        avg(risk_score) as avg_risk_score,
        avg(
            case
                when risk_score >= {{ validated_number('high_risk_score') }} then 1.0
                else 0.0
            end
        ) as high_risk_share

    from scored_purchases
    group by merchant_id

),

final as (

    select
        merchants.merchant_id,
        merchants.merchant_name,
        {{ python_udf('normalize_merchant_name') }}(merchants.merchant_name)
            as normalized_merchant_name,
        merchant_risk.transaction_count,
        merchant_risk.avg_risk_score,
        merchant_risk.high_risk_share

    from merchants
    inner join merchant_risk
        on merchants.merchant_id = merchant_risk.merchant_id

)

select * from final
