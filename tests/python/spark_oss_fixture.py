"""A tiny dbt project for the dbt-spark-oss integration tests, written into a temp directory.

Kept as Python strings (not files under tests/) because the main project's test-paths is
``tests``: dbt would parse .sql/.yml files there as the main project's own tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.python.profiles import session_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "fixture"
# The fixture's Spark settings beyond the test projects' common ones (tests/python/profiles.py).
FIXTURE_CONF = {
    "spark.app.name": "dbt-spark-oss-fixture",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.default": "parquet",
}

# order_id,customer_id,merchant_name,amount,ordered_hour,batch
# batch 2 changes order 3 (new amount) and adds order 5.
RAW_ORDERS = """order_id,customer_id,merchant_name,amount,ordered_hour,batch
1,1,"Café Nero Ltd.",12.5,9,1
2,2,"ACME  Corp",1500.0,3,1
3,1,"Müller GmbH",80.0,23,1
4,3,"Amazon.com, Inc.",,14,1
3,1,"Müller GmbH",95.0,23,2
5,2,"  Zoë Bakery LLC ",40.0,25,2
"""

FILES: dict[str, str] = {
    "dbt_project.yml": """
name: spark_oss_fixture
version: "1.0"
config-version: 2
profile: spark_oss_fixture
model-paths: ["models"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
test-paths: ["tests"]
on-run-start:
  - "create schema if not exists {{ target.schema }}"
  - >-
    create or replace view {{ target.schema }}.raw_customers as
    select * from values (1, 'DE'), (2, 'FR'), (3, 'DE') as t(customer_id, country)
on-run-end:
  - "{{ clear_spark_cache() }}"
models:
  spark_oss_fixture:
    +file_format: parquet
    # The project's declarative cache (macros/spark_performance.sql), as in its dbt_project.yml.
    +post-hook: "{{ cache_if_configured() }}"
    missing_udf_model:
      +enabled: "{{ var('with_bad_udf_models', false) }}"
    udf_in_view_model:
      +enabled: "{{ var('with_bad_udf_models', false) }}"
""",
    "profiles.yml": session_profile(
        "spark_oss_fixture",
        SCHEMA,
        cores=2,
        threads=2,
        udf_modules=True,
        conf=FIXTURE_CONF,
    ),
    "seeds/raw_orders.csv": RAW_ORDERS,
    "models/sources.yml": """
version: 2
sources:
  - name: crm
    schema: "{{ target.schema }}"
    tables:
      - name: raw_customers
""",
    "models/schema.yml": """
version: 2
seeds:
  # The project's `unique` (tests/generic/unique.sql: dbt's query, partial aggregation bypassed)
  # on a key the seed repeats (order 3 in both batches).
  - name: raw_orders
    columns:
      - name: order_id
        data_tests:
          - unique:
              config:
                enabled: "{{ var('with_duplicate_check', false) }}"
models:
  - name: orders_merge
    columns:
      - name: order_id
        data_tests: [unique, not_null]
  # persist_docs: SQL models write the comments in their create, Python models alter columns.
  - name: orders_by_hour
    config:
      persist_docs: {relation: true, columns: true}
    columns:
      - name: order_id
        description: "Order id; it's the seed's \\\\ key."
      - name: amount
        description: Amount of the order's latest version.
      - name: ordered_hour
        description: Hour of the order (the partition column).
  # An enforced contract whose columns come in another order than the query's.
  - name: contracted_orders
    config:
      materialized: table
      contract: {enforced: true}
      persist_docs: {relation: true, columns: true}
    columns:
      - name: order_key
        data_type: string
        description: The order id as text.
      - name: ordered_hour
        data_type: int
        description: Hour of the order.
      - name: amount
        data_type: double
        description: Amount of the order's latest version.
  - name: orders_enriched
    config:
      persist_docs: {relation: true, columns: true}
    columns:
      - name: order_id
        description: "Order id; it's the seed's key."
        data_tests: [unique, not_null]
      - name: country
        description: Country of the customer.
        data_tests: [not_null]
  # A data test's own Spark settings (meta.spark_settings: the adapter's test materialization)
  # hold for its query only; the nodes after it start from the target's settings again.
  - name: conf_set_by_pre_hook
    data_tests:
      - shuffle_partitions:
          arguments: {equal_to: 5}
          config:
            meta:
              spark_settings: {spark.sql.shuffle.partitions: 5}
      # Next in name order: on one thread, the data test right after the one above.
      - shuffle_partitions:
          name: shuffle_partitions_then_as_configured
          arguments: {other_than: 5}
  - name: conf_after_pre_hook
    data_tests:
      - shuffle_partitions:
          arguments: {other_than: 5}
      # Settings that are not a name and a word are refused before anything runs.
      - shuffle_partitions:
          name: spark_settings_bad_name
          arguments: {other_than: 5}
          config:
            enabled: "{{ var('with_bad_test_settings', false) }}"
            meta:
              spark_settings: {"spark.sql.shuffle.partitions=1; select 1": 2}
      - shuffle_partitions:
          name: spark_settings_bad_value
          arguments: {other_than: 5}
          config:
            enabled: "{{ var('with_bad_test_settings', false) }}"
            meta:
              spark_settings: {spark.sql.shuffle.partitions: "2 ${env:HOME}"}
""",
    # Fails when the test's query sees another number of shuffle partitions than `equal_to`, or
    # sees `other_than` (Spark substitutes the setting's value into the query text).
    "tests/generic/shuffle_partitions.sql": """
{% test shuffle_partitions(model, equal_to=none, other_than=none) %}
select '${spark.sql.shuffle.partitions}' as seen
where
{%- if equal_to is not none %} '${spark.sql.shuffle.partitions}' != '{{ equal_to }}'
{%- else %} '${spark.sql.shuffle.partitions}' = '{{ other_than }}'
{%- endif %}
{% endtest %}
""",
    # latest version of each order among the batches loaded so far
    "models/stg_orders.sql": """
select * from (
    select *, row_number() over (partition by order_id order by batch desc) as version_rank
    from {{ ref('raw_orders') }}
    where batch <= {{ var('batch', 1) }}
) as versions
where version_rank = 1
""",
    "models/contracted_orders.sql": """
select
    cast(amount as double) as amount,
    cast(order_id as string) as order_key,
    cast(ordered_hour as int) as ordered_hour
from {{ ref('stg_orders') }}
""",
    # A table in batch 1 that the project turns into a view in batch 2.
    "models/switched_to_view.sql": """
{{ config(materialized='table' if var('batch', 1) | int == 1 else 'view') }}
select order_id, amount from {{ ref('stg_orders') }}
""",
    # Python table model: ref + source + config + this + is_incremental + a registered UDF.
    "models/orders_enriched.py": """
from pyspark.sql import functions as F


def model(dbt, session):
    dbt.config(materialized="table", tags=["python"])
    orders = dbt.ref("stg_orders")
    customers = dbt.source("crm", "raw_customers")
    return (
        orders.join(customers, "customer_id", "left")
        .withColumn("merchant_key", F.call_function("normalize_merchant_name", "merchant_name"))
        .withColumn("materialized_as", F.lit(dbt.config.get("materialized")))
        .withColumn("this_relation", F.lit(str(dbt.this)))
        .withColumn("was_incremental", F.lit(bool(dbt.is_incremental)))
    )
""",
    # Python model returning pandas.
    "models/customer_totals_pd.py": """
def model(dbt, session):
    orders = dbt.ref("orders_enriched").toPandas()
    totals = orders.groupby("customer_id", as_index=False)["amount"].sum()
    return totals.rename(columns={"amount": "total_amount"})
""",
    "models/orders_append.py": """
from pyspark.sql import functions as F


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    orders = dbt.ref("stg_orders").select("order_id", "amount", "batch")
    if dbt.is_incremental:
        done = session.table(str(dbt.this)).agg(F.max("batch")).first()[0]
        orders = orders.filter(F.col("batch") > done)
    return orders
""",
    "models/orders_merge.py": """
from pyspark.sql import functions as F


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="merge", unique_key="order_id")
    orders = dbt.ref("stg_orders").select("order_id", "amount", "batch")
    if dbt.is_incremental:
        # >= : the last batch is reprocessed, the merge makes that idempotent
        done = session.table(str(dbt.this)).agg(F.max("batch")).first()[0]
        orders = orders.filter(F.col("batch") >= done)
    return orders
""",
    # Good on batch 1, fails on batch 2: the batch-1 table must survive.
    "models/fragile_model.py": """
def model(dbt, session):
    orders = dbt.ref("stg_orders")
    max_batch = orders.agg({"batch": "max"}).first()[0]
    if max_batch >= 2:
        raise ValueError(f"simulated bug: batch {max_batch} is not supported")
    return orders.groupBy("batch").count()
""",
    # Same, as an incremental model that always rebuilds (full_refresh=True): the swap path.
    "models/fragile_incremental.py": """
def model(dbt, session):
    dbt.config(materialized="incremental", full_refresh=True)
    orders = dbt.ref("stg_orders")
    max_batch = orders.agg({"batch": "max"}).first()[0]
    if max_batch >= 2:
        raise ValueError(f"simulated bug: batch {max_batch} is not supported")
    return orders.groupBy("batch").count()
""",
    # SQL incremental model, partitioned: its second build takes the incremental path.
    "models/orders_by_hour.sql": """
{{ config(materialized='incremental', incremental_strategy='insert_overwrite',
          partition_by=['ordered_hour']) }}
select order_id, amount, ordered_hour from {{ ref('stg_orders') }}
""",
    # meta.cache: later models of the same run read this table from Spark's cache.
    "models/orders_cached.sql": """
{{ config(materialized='table', meta={'cache': true}) }}
select order_id, amount from {{ ref('stg_orders') }}
""",
    # What a later model of the run sees: the cached table's DataFrame is served from memory.
    "models/cache_probe.py": """
def model(dbt, session):
    reads = {"orders_cached": dbt.ref("orders_cached"), "stg_orders": dbt.ref("stg_orders")}
    return session.createDataFrame(
        [(name, df.storageLevel.useMemory) for name, df in reads.items()],
        "relation string, read_from_cache boolean",
    )
""",
    # A pre-hook's `set` holds for its model's statements, on the embedded target as on the
    # Thrift Server; the next model's connection starts from the profile's settings again.
    "models/conf_set_by_pre_hook.sql": """
{{ config(materialized='table', pre_hook='set spark.sql.shuffle.partitions=7') }}
select distinct '${spark.sql.shuffle.partitions}' as shuffle_partitions
from {{ ref('stg_orders') }}
""",
    "models/conf_after_pre_hook.sql": """
{{ config(materialized='table') }}
select '${spark.sql.shuffle.partitions}' as shuffle_partitions
from {{ ref('conf_set_by_pre_hook') }}
""",
    "models/merchants_udf.sql": """
{{ config(materialized='table') }}
select
    order_id,
    merchant_name,
    {{ python_udf('normalize_merchant_name') }}(merchant_name) as merchant_key,
    {{ python_udf('transaction_risk_score') }}(
        amount, ordered_hour, customer_id = 2
    ) as risk_score
from {{ ref('stg_orders') }}
""",
    "models/missing_udf_model.sql": """
{{ config(materialized='table') }}
select {{ python_udf('no_such_udf') }}(1) as x
""",
    # What the relation cache's listing (SparkOssAdapter.list_relations_without_caching) finds:
    # get_relation lists a schema that dbt has not cached, as the cache does.
    "macros/relation_kinds.sql": """
{% macro relation_kinds(schema, names) %}
  {% do run_query('create or replace temporary view listed_temp_view as select 1 as x') %}
  {% for name in names %}
    {% set found = adapter.get_relation(database=none, schema=schema, identifier=name) %}
    {% set information = (found.information if found else none) or '' %}
    {% set provider = modules.re.search('Provider: *([A-Za-z]+)', information) %}
    {{ print('kind ' ~ name ~ ': ' ~ (found.type if found else 'none')
             ~ (' ' ~ provider.group(1) if provider else '')) }}
  {% endfor %}
{% endmacro %}
""",
    "models/udf_in_view_model.sql": """
select {{ python_udf('normalize_merchant_name') }}('x') as x
""",
}


def profile(name: str, schema: str = SCHEMA) -> str:
    """The fixture's profiles.yml (embedded spark_oss, state under $SPARK_STATE_DIR) for
    another tiny project: profile ``name``, target schema ``schema``."""
    return session_profile(name, schema, cores=2, threads=2, udf_modules=True, conf=FIXTURE_CONF)


def write_project(dest: Path) -> Path:
    """Write the fixture project into ``dest`` (with the repository's UDF and cache macros and
    its `unique` test)."""
    for name, text in FILES.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    (dest / "macros").mkdir(exist_ok=True)
    for macros in ("python_udfs.sql", "spark_performance.sql"):
        shutil.copy(REPO_ROOT / "macros" / macros, dest / "macros" / macros)
    (dest / "tests" / "generic").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "tests" / "generic" / "unique.sql", dest / "tests" / "generic")
    return dest
