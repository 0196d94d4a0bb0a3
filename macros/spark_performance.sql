{#
    Performance as declarative config. In a model's YAML (or dbt_project.yml):

      config:
        meta:
          spark_hints:
            broadcast: [merchants, categories]   # relation or CTE names to broadcast
            repartition: [purchase_month]        # columns, optionally a leading number
          cache: true                            # keep the built table in Spark's cache

    `{{ spark_hints() }}` goes right after the `select` keyword it applies to.
#}
{% macro spark_hints() %}
    {#- At parse time config.get() returns placeholders, so hints are only rendered to run. -#}
    {%- set hints = model_meta().get('spark_hints', {}) -%}
    {%- set rendered = [] -%}
    {%- if hints is not mapping -%}
        {%- do _input_error("meta.spark_hints of " ~ _hint_owner(), hints, "expected a mapping {broadcast: [...], repartition: [...]}") -%}
    {%- endif -%}
    {%- for key in hints if key not in ('broadcast', 'repartition') -%}
        {%- do _input_error("meta.spark_hints key of " ~ _hint_owner(), key, "expected broadcast or repartition") -%}
    {%- endfor -%}
    {#- Hint arguments are pasted into SQL: identifiers only (validate_inputs.sql). -#}
    {%- if hints.get('broadcast') -%}
        {%- set names = validated_identifier_list("meta.spark_hints.broadcast of " ~ _hint_owner(), hints['broadcast']) -%}
        {%- do rendered.append('broadcast(' ~ names | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if hints.get('repartition') -%}
        {%- set columns = validated_identifier_list("meta.spark_hints.repartition of " ~ _hint_owner(), hints['repartition'], allow_leading_number=true) -%}
        {%- do rendered.append('repartition(' ~ columns | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if rendered -%}/*+ {{ rendered | join(', ') }} */{%- endif -%}
{% endmacro %}


{#- Post-hook for every model: caches the table when `meta.cache` is true. Later models of the
    same dbt invocation (one Spark session) then read it from memory; on-run-end clears it.
    Lazy: the first reader fills the cache while it reads, instead of an extra full read of the
    table right after it was written. -#}
{% macro cache_if_configured() %}
    {%- if model_meta().get('cache', false) and config.get('materialized') == 'table' -%}
        cache lazy table {{ this }}
    {%- endif -%}
{% endmacro %}


{% macro clear_spark_cache() %}
    {%- if execute -%}
        {%- do run_query('clear cache') -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}


{% macro _hint_owner() %}
    {{ return(model.unique_id if model is defined and model else 'this node') }}
{% endmacro %}


{% macro model_meta() %}
    {%- set meta = config.get('meta', {}) if execute else {} -%}
    {{ return(meta if meta is mapping else {}) }}
{% endmacro %}
