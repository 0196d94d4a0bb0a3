{#
    "Everything was rejected" is a failed build, not an empty mart: the share of a source's rows
    that ended in its quarantine model must not exceed `max_share` (default: the var
    `max_quarantine_share`). A source with no rows fails too. On failure the test raises with a
    readable message (severity error, the default); with `severity: warn` it returns one row
    with the same message instead.

        data_tests:
          - quarantine_share_below:
              arguments:
                quarantine: "ref('quarantine_transactions')"
#}
{% test quarantine_share_below(model, quarantine, max_share=none) %}
{%- if max_share is none -%}
    {%- set limit = validated_number('max_quarantine_share', min_value=0, max_value=1) -%}
{%- elif is_plain_number(max_share) and 0 <= (max_share | float) <= 1 -%}
    {%- set limit = max_share | string -%}
{%- else -%}
    {%- do _input_error('argument max_share of quarantine_share_below on ' ~ model, max_share, 'expected a number in [0, 1]') -%}
{%- endif -%}
{%- set raise = (config.get('severity') or 'error') | lower == 'error' -%}

with

counts as (

    select
        (select count(*) from {{ model }}) as source_rows,
        (select count(*) from {{ quarantine }}) as quarantined_rows

),

shares as (

    select
        *,
        case when source_rows = 0 then 1.0 else quarantined_rows / source_rows end
            as quarantined_share
    from counts

),

failures as (

    select
        concat(
            'Quarantine share too high for {{ model }}: ', quarantined_rows, ' of ', source_rows,
            ' rows (', round(100 * quarantined_share, 1), '%) are in {{ quarantine }}, above ',
            'max_quarantine_share = {{ limit }}. ',
            case
                when source_rows = 0 then 'The source has no rows.'
                else 'Check the files (delimiter, header, encoding, format) and the quarantine''s rejection_reason.'
            end
        ) as failure,
        source_rows,
        quarantined_rows,
        quarantined_share
    from shares
    where quarantined_share > {{ limit }}

)

select * from failures
{%- if raise %}
where raise_error(failure) is null
{%- endif %}

{% endtest %}
