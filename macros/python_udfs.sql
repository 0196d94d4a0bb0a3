{#
    python_udf(name): the SQL name of a Python UDF from the python_udfs package, checked at run
    time against the Spark session of the current target, so a missing UDF is a clear error in
    the calling model instead of a cryptic analysis error (or, worse, a different function).

        select {{ python_udf('normalize_merchant_name') }}(merchant_name) as merchant_key

    The dbt-spark-oss adapter (type: spark_oss, method: session) registers python_udfs into the
    embedded session when it opens it. A Thrift/cluster target's SQL session never saw that
    Python registration, so models calling Python UDFs fail there with the message below.
    Spark views cannot reference temporary functions: a model calling a Python UDF must be
    materialized as a table or incremental, not as a view.
#}
{% macro python_udf(name) %}
    {%- if execute and model is defined and model and model.config.materialized == 'view' -%}
        {%- do exceptions.raise_compiler_error(
            "Model " ~ model.unique_id ~ " calls the Python UDF '" ~ name ~ "' but is "
            ~ "materialized as a view: Spark views cannot reference temporary functions. "
            ~ "Materialize it as a table or incremental model.") -%}
    {%- endif -%}
    {#-- only where models execute: not on compile (sqlfluff's templater too), docs, ls --#}
    {%- if execute and flags.WHICH in ('run', 'build', 'retry', 'show') -%}
        {%- set found = run_query("show user functions like '" ~ name ~ "'") -%}
        {%- if found is none or (found.rows | length) == 0 -%}
            {%- set model_name = model.unique_id if model is defined and model else 'this node' -%}
            {%- do exceptions.raise_compiler_error(
                "Python UDF '" ~ name ~ "' used by " ~ model_name ~ " is not registered in the "
                ~ "Spark session of target '" ~ target.name ~ "' (type " ~ target.type ~ ", method "
                ~ target.get('method', '?') ~ "). Python UDFs are registered only by the "
                ~ "spark_oss adapter with method: session (profile setting python_udf_modules, "
                ~ "default ['python_udfs']); a Thrift/cluster SQL session cannot run them. Run "
                ~ "this model on the embedded target (dbt ... --target local), add '" ~ name
                ~ "' to a module listed in python_udf_modules, or replace the call with SQL.") -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(name) -}}
{% endmacro %}
