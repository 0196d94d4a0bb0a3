"""A small dbt project with one model per materialization, for the fault suite (test_faults.py).

Kept as Python strings for the same reason as spark_oss_fixture.py (the main project's test-paths
is ``tests``). Two batches of orders: batch 2 changes order 3 and adds orders 5 and 6, so every
incremental strategy has something to append, overwrite and merge.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.python.profiles import session_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
IN_ENV = REPO_ROOT / "scripts" / "in_env.sh"
SCHEMA = "faults"

ORDERS = """order_id,customer_id,amount,order_day,batch
1,1,12.50,2026-01-01,1
2,2,1500.00,2026-01-01,1
3,1,80.00,2026-01-02,1
4,3,7.25,2026-01-02,1
3,1,95.00,2026-01-02,2
5,2,40.00,2026-01-03,2
6,3,19.99,2026-01-03,2
"""

# model name -> materialization it exercises
MODELS = {
    "raw_orders": "seed",
    "sql_table": "table (SQL)",
    "sql_partitioned_table": "table (SQL, partitioned)",
    "py_table": "table (Python)",
    "sql_append": "incremental append (SQL)",
    "sql_insert_overwrite": "incremental insert_overwrite (SQL, partitioned)",
    "sql_merge": "incremental merge (SQL)",
    "py_merge": "incremental merge (Python)",
}

FILES: dict[str, str] = {
    "dbt_project.yml": """
name: fault_project
version: "1.0"
config-version: 2
profile: fault_project
model-paths: ["models"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
models:
  fault_project:
    +file_format: parquet
seeds:
  fault_project:
    +file_format: parquet
    raw_orders:
      +column_types: {order_id: int, customer_id: int, amount: "decimal(10,2)",
                       order_day: date, batch: int}
vars:
  batch: 1
  slow_rows: 0
# What readers see, printed before and after every invocation (also the killed ones: the start
# line is printed before anything is built).
on-run-start:
  - "{{ fault_state('FAULT_STATE_START') }}"
on-run-end:
  - "{{ fault_state('FAULT_STATE_END') }}"
""",
    "profiles.yml": session_profile(
        "fault_project",
        # DBT_SCHEMA: the suite's clean builds share the killed project's metastore.
        f"{{{{ env_var('DBT_SCHEMA', '{SCHEMA}') }}}}",
        cores=2,
        udf_modules=True,
        conf={"spark.sql.session.timeZone": "UTC"},
        outputs={
            "thrift": {
                "type": "spark_oss",
                "method": "thrift",
                "host": "127.0.0.1",
                "port": "{{ env_var('FAULT_THRIFT_PORT', '10000') | as_number }}",
                "user": "dbt",
                "auth": "NONE",
                "schema": SCHEMA,
                "threads": 1,
                "connect_url": "sc://127.0.0.1:{{ env_var('FAULT_CONNECT_PORT', '15002') }}",
            }
        },
    ),
    "seeds/raw_orders.csv": ORDERS,
    "models/stg_orders.sql": """
{{ config(materialized='view') }}
select * from {{ ref('raw_orders') }} where batch <= {{ var('batch') }}
""",
    "models/sql_table.sql": """
{{ config(materialized='table') }}
select customer_id, count(*) as orders, sum(amount) as amount
from {{ ref('stg_orders') }}
group by customer_id
{% if var('slow_rows') | int > 0 %}
-- a long write, for the kill-during-write fault
union all
select id as customer_id, 1 as orders, cast(1 as decimal(20, 2)) as amount
from range(1000, 1000 + {{ var('slow_rows') | int }}, 1, 8)
{% endif %}
""",
    "models/sql_partitioned_table.sql": """
{{ config(materialized='table', partition_by=['order_day']) }}
select order_id, amount, batch, order_day from {{ ref('stg_orders') }}
""",
    "models/py_table.py": """
def model(dbt, session):
    dbt.config(materialized="table")
    return dbt.ref("stg_orders").groupBy("order_day").count()
""",
    "models/sql_append.sql": """
{{ config(materialized='incremental', incremental_strategy='append') }}
select order_id, amount, batch from {{ ref('stg_orders') }}
{% if is_incremental() %}
where batch > (select coalesce(max(batch), 0) from {{ this }})
{% endif %}
""",
    "models/sql_insert_overwrite.sql": """
{{ config(materialized='incremental', incremental_strategy='insert_overwrite',
          partition_by=['order_day']) }}
select order_id, amount, batch, order_day from {{ ref('stg_orders') }}
{% if is_incremental() %}
where order_day >= (select max(order_day) from {{ this }})
{% endif %}
""",
    "models/sql_merge.sql": """
{{ config(materialized='incremental', incremental_strategy='merge', unique_key='order_id') }}
select order_id, amount, batch from (
    select *, row_number() over (partition by order_id order by batch desc) as rank
    from {{ ref('stg_orders') }}
) as latest
where rank = 1
{% if is_incremental() %}
  and batch >= (select max(batch) from {{ this }})
{% endif %}
""",
    "models/py_merge.py": """
from pyspark.sql import Window
from pyspark.sql import functions as F


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="merge", unique_key="order_id")
    orders = dbt.ref("stg_orders")
    latest = orders.withColumn(
        "rank", F.row_number().over(Window.partitionBy("order_id").orderBy(F.desc("batch")))
    ).where("rank = 1").select("order_id", "amount", "batch")
    if dbt.is_incremental:
        done = session.table(str(dbt.this)).agg(F.max("batch")).first()[0]
        latest = latest.where(F.col("batch") >= done)
    return latest
""",
    # Prints, for every model, the version its view reads and a fingerprint of its rows.
    "macros/fault_state.sql": """
{% macro fault_state(label) %}
  {% if not execute or invocation_args_dict.get('which') not in ('build', 'run', 'seed') %}
    {{ return('select 1') }}
  {% endif %}
  {% set state = {} %}
  {% for name in """
    + json.dumps(list(MODELS))
    + """ %}
    {% set relation = adapter.get_relation(target.database, target.schema, name) %}
    {% if relation is none %}
      {% do state.update({name: none}) %}
    {% else %}
      {% set rows = run_query('select count(*), coalesce(sum(hash(*)), 0) from ' ~ relation) %}
      {% set version = spark_oss_published(relation).version %}
      {% do state.update({name: {'type': relation.type, 'version': (
          version.identifier if version is not none else none),
          'rows': rows.rows[0][0] | int, 'fingerprint': rows.rows[0][1] | string}}) %}
    {% endif %}
  {% endfor %}
  {% do print(label ~ ' ' ~ tojson(state)) %}
  {{ return('select 1') }}
{% endmacro %}
""",
}


def write_project(dest: Path) -> Path:
    for name, text in FILES.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return dest


class FaultProject:
    """The fault project with its own metastore, warehouse, target and logs under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.project = write_project(workdir / "project")

    @property
    def warehouse(self) -> Path:
        return self.workdir / "spark" / "warehouse"

    def env(self, fault: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_PROJECT_DIR": str(self.project),
            "SPARK_STATE_DIR": str(self.workdir / "spark"),
            "DBT_TARGET_PATH": str(self.workdir / "target"),
            "DBT_LOG_PATH": str(self.workdir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
        }
        env.pop("SPARK_OSS_FAULT_POINT", None)
        env.pop("DBT_SCHEMA", None)
        if fault:
            env["SPARK_OSS_FAULT_POINT"] = fault
        env.update(extra or {})
        return env

    def dbt_command(self, *args: str, batch: int = 1, **extra_vars: object) -> list[str]:
        return [str(IN_ENV), "dbt", *args, "--vars", json.dumps({"batch": batch, **extra_vars})]

    def dbt(
        self,
        *args: str,
        fault: str | None = None,
        batch: int = 1,
        check: bool = True,
        env: dict[str, str] | None = None,
        **extra_vars: object,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.dbt_command(*args, batch=batch, **extra_vars),
            cwd=self.project,
            env=self.env(fault, env),
            text=True,
            capture_output=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} exited {result.returncode}\n{result.stdout[-5000:]}"
            )
        return result

    @staticmethod
    def state(result: subprocess.CompletedProcess[str], label: str) -> dict[str, dict | None]:
        """Per model, as printed by the invocation's hooks (FAULT_STATE_START or _END): relation
        type, the version its view reads, row count and fingerprint."""
        match = re.search(rf"^{label} (.*)$", result.stdout, re.MULTILINE)
        assert match, f"no {label} line in:\n{result.stdout[-3000:]}"
        return json.loads(match.group(1))
