{#-- Data tests: `set` of the test's `meta.spark_settings`, then dbt's own test materialization.
     A data test has no hooks; a connection's session is the node's own, and a data test that
     ran a `set` closes it (SparkOssConnectionManager), so the settings reach no other node
     (adapter README, "Spark settings for a data test"). --#}
{% materialization test, adapter='spark_oss' %}
  {%- for key, value in spark_oss_test_settings().items() -%}
    {%- call statement('spark_setting') -%} set {{ key }}={{ value }} {%- endcall -%}
  {%- endfor -%}
  {{ return(materialization_test_default()) }}
{% endmaterialization %}


{#-- The test's `meta.spark_settings`, checked: they are pasted into `set` statements, so a key is
     what Spark's `set` takes unquoted (dotted words) and a value one word or number (no spaces,
     quotes, `;` or `${`). --#}
{% macro spark_oss_test_settings() %}
  {%- set meta = config.get('meta') or {} -%}
  {%- set settings = (meta.get('spark_settings') if meta is mapping else none) or {} -%}
  {%- set settings_of = "meta.spark_settings of " ~ model.unique_id -%}
  {%- if settings is not mapping -%}
    {% do exceptions.raise_compiler_error(settings_of ~ " must be a mapping of Spark settings to values, got '" ~ settings ~ "'") %}
  {%- endif -%}
  {%- set checked = {} -%}
  {%- for key, value in settings.items() -%}
    {%- if key is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+', key) -%}
      {% do exceptions.raise_compiler_error(settings_of ~ ": '" ~ key ~ "' is not a Spark setting's name (dotted words, e.g. spark.sql.shuffle.partitions)") %}
    {%- endif -%}
    {%- set text = (value | string | lower) if value is boolean else (value | string) -%}
    {%- if value is none or (value is iterable and value is not string) or not modules.re.fullmatch('[A-Za-z0-9_.:/+-]+', text) -%}
      {% do exceptions.raise_compiler_error(settings_of ~ ": the value of " ~ key ~ " must be a word or a number (letters, digits, _ . : / + -), got '" ~ value ~ "'") %}
    {%- endif -%}
    {%- do checked.update({key: text}) -%}
  {%- endfor -%}
  {{ return(checked) }}
{% endmacro %}
