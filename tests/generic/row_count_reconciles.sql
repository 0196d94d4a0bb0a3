{#
    Nothing is lost: the rows of `model` (typically a raw source) equal the sum of the rows of
    `parts` (typically the clean model and the quarantine model). Fails with one row showing
    both counts.
#}
{% test row_count_reconciles(model, parts) %}

with

source_rows as (

    select count(*) as row_count from {{ model }}

),

part_rows as (

    select sum(row_count) as row_count
    from (
        {%- for part in parts %}
        select count(*) as row_count from {{ part }}
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as counted_parts

),

final as (

    select
        source_rows.row_count as source_row_count,
        part_rows.row_count as parts_row_count
    from source_rows
    cross join part_rows
    where source_rows.row_count != part_rows.row_count

)

select * from final

{% endtest %}
