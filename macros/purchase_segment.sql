{#
    The one definition of purchase segments. Thresholds are project vars and strictly
    "greater than": 1000.00 is Medium Value, 1000.01 is High Value. A null amount has no segment.
#}
{% macro purchase_segment(amount_column) %}
    case
        when {{ amount_column }} is null then null
        when {{ amount_column }} > {{ validated_number('high_value_threshold') }} then 'High Value'
        when {{ amount_column }} > {{ validated_number('medium_value_threshold') }} then 'Medium Value'
        else 'Low Value'
    end
{% endmacro %}
