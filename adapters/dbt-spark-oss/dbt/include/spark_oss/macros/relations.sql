{#-- The views of a schema, for the relation cache's listing (SparkOssAdapter.
     list_relations_without_caching, beside dbt-spark's `show tables`). --#}
{% macro spark_oss_list_views_without_caching(schema_relation) %}
  {% call statement('spark_oss_list_views_without_caching', fetch_result=True) -%}
    show views in {{ schema_relation.schema }}
  {% endcall %}
  {% do return(load_result('spark_oss_list_views_without_caching').table) %}
{% endmacro %}
