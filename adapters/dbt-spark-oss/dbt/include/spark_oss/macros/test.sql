{#-- Data tests on the spark_oss adapter: dbt's own test materialization, after the test's Spark
     settings. A data test has no hooks, so `meta.spark_settings` (a mapping of Spark SQL settings
     to values) is how a test's query gets settings of its own, e.g. a plan choice that suits its
     query's shape:

       data_tests:
         - unique:
             config:
               meta:
                 spark_settings: {spark.sql.execution.bypassPartialAggregation: true}

     Each is applied with `set` on the test's connection. dbt opens a connection per node, and
     each connection has a Spark session of its own (embedded: a copy of the embedded session;
     Thrift: the server's session for it), so a setting reaches neither the tests beside it nor
     the nodes after it. --#}
{% materialization test, adapter='spark_oss' %}
  {%- for key, value in spark_oss_test_settings().items() -%}
    {%- call statement('spark_setting') -%} set {{ key }}={{ value }} {%- endcall -%}
  {%- endfor -%}
  {{ return(materialization_test_default()) }}
{% endmaterialization %}


{#-- The test's `meta.spark_settings`, checked: they are pasted into `set` statements, so keys are
     dotted names and values plain words or numbers (no spaces, quotes, `;` or `${`). --#}
{% macro spark_oss_test_settings() %}
  {%- set meta = config.get('meta') or {} -%}
  {%- set settings = meta.get('spark_settings', {}) if meta is mapping else {} -%}
  {%- set where = "meta.spark_settings of " ~ model.unique_id -%}
  {%- if settings is not mapping -%}
    {% do exceptions.raise_compiler_error(where ~ " must be a mapping of Spark settings to values, got " ~ (settings | tojson)) %}
  {%- endif -%}
  {%- set checked = {} -%}
  {%- for key, value in settings.items() -%}
    {%- if key is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+', key) -%}
      {% do exceptions.raise_compiler_error(where ~ ": " ~ (key | tojson) ~ " is not a Spark setting's name (dotted words, e.g. spark.sql.shuffle.partitions)") %}
    {%- endif -%}
    {%- set text = (value | string | lower) if value is boolean else (value | string) -%}
    {%- if value is mapping or (value is iterable and value is not string) or not modules.re.fullmatch('[A-Za-z0-9_.:/+-]+', text) -%}
      {% do exceptions.raise_compiler_error(where ~ ": the value of " ~ key ~ " must be a word or a number (letters, digits, _ . : / + -), got " ~ (value | tojson)) %}
    {%- endif -%}
    {%- do checked.update({key: text}) -%}
  {%- endfor -%}
  {{ return(checked) }}
{% endmacro %}
