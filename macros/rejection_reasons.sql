{#
    The rejection-reason contract is the var `rejection_reasons` in dbt_project.yml: per source
    entity, the checks in the order they are applied, each with its stage (row, reference,
    dedup). These macros are the only SQL readers of it (docs/contracts.md).

    rejection_reason_values(entity, stages=none): the reasons of `entity` in contract order,
    optionally only those of one stage or a list of stages. Used by the accepted_values tests:

        values: "{{ rejection_reason_values('transactions', 'row') }}"

    first_failing_check(entity, stages, conditions): a `case when ... then '<reason>' ... end`
    over `conditions` ({reason: sql condition}), in the CONTRACT's order, so the first failing
    check is the row's reason. The model says what each check is; the contract says which checks
    exist and in which order. A condition for a reason that the contract does not list for these
    stages, or a missing one, is a compiler error naming the model.
#}
{% macro rejection_reason_values(entity, stages=none) %}
    {%- set contract = var('rejection_reasons') -%}
    {%- if entity not in contract -%}
        {%- do exceptions.raise_compiler_error(
            "rejection_reasons: no entity '" ~ entity ~ "' in the var rejection_reasons "
            ~ "(dbt_project.yml); entities: " ~ (contract.keys() | list | join(', '))) -%}
    {%- endif -%}
    {%- set stage_list = none if stages is none else ([stages] if stages is string else stages) -%}
    {%- set values = [] -%}
    {%- for check in contract[entity] if stage_list is none or check['stage'] in stage_list -%}
        {%- do values.append(check['reason']) -%}
    {%- endfor -%}
    {{ return(values) }}
{% endmacro %}


{% macro first_failing_check(entity, stages, conditions) %}
    {%- set expected = rejection_reason_values(entity, stages) -%}
    {%- set given = conditions.keys() | list -%}
    {%- set missing = expected | reject('in', given) | list -%}
    {%- set unknown = given | reject('in', expected) | list -%}
    {%- if not expected or missing or unknown -%}
        {%- set model_name = model.unique_id if model is defined and model else 'this node' -%}
        {%- do exceptions.raise_compiler_error(
            model_name ~ ": first_failing_check('" ~ entity ~ "', " ~ stages ~ ") has conditions "
            ~ "for [" ~ (given | join(', ')) ~ "] but the contract (var rejection_reasons in "
            ~ "dbt_project.yml) lists [" ~ (expected | join(', ')) ~ "] for these stages"
            ~ ("; missing: " ~ (missing | join(', ')) if missing else "")
            ~ ("; not in the contract: " ~ (unknown | join(', ')) if unknown else "")) -%}
    {%- endif -%}
    case
        {%- for reason in expected %}
            when {{ conditions[reason] }} then '{{ reason }}'
        {%- endfor %}
    end
{%- endmacro %}
