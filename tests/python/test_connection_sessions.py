"""Each dbt connection of the embedded target, and each Python model, runs on a session of its
own (spark_oss adapter, ``connection_session``): what one node sets or creates for itself stays
with it, so dbt's threads can run nodes side by side; the Python UDFs, the catalog and the cache
are shared. On a Thrift target a data test that only ran queries leaves its session to the next
data test of its thread (the adapter's ``QUERY``). A temporary view created while the
adapter has Spark keep analysed plans keeps its plan (spark_oss_query_view).
"""

from __future__ import annotations

from dbt.adapters.spark.connections import SparkConnectionMethod
from dbt.adapters.spark_oss.connections import (
    QUERY,
    SparkOssCredentials,
    SparkOssSessionConnectionWrapper,
)
from dbt.adapters.spark_oss.python_submissions import SparkOssPythonJobHelper
from pyspark.sql import SparkSession

from python_udfs.merchant import normalize_merchant_name


def _credentials() -> SparkOssCredentials:
    """The embedded target's; its session is the ``spark`` fixture's (getOrCreate)."""
    return SparkOssCredentials(
        host="localhost",
        method=SparkConnectionMethod.SESSION,
        schema="analytics",
        database=None,
        server_side_parameters={"spark.sql.shuffle.partitions": "2"},
        session_lock=False,  # the fixture's session has no metastore to lock
    )


def _connection() -> SparkOssSessionConnectionWrapper:
    """A connection of the adapter, as dbt opens one for a node."""
    return SparkOssSessionConnectionWrapper(None, _credentials())


def _one(connection: SparkOssSessionConnectionWrapper, sql: str) -> object:
    connection.cursor().execute(sql)
    [[value]] = connection.fetchall()
    return value


def test_a_set_stays_with_its_connection(spark: SparkSession) -> None:
    first, second = _connection(), _connection()
    setting = "select '${spark.sql.shuffle.partitions}'"
    assert (_one(first, setting), _one(second, setting)) == ("2", "2")  # the profile's value
    first.cursor().execute("set spark.sql.shuffle.partitions=7")
    assert (_one(first, setting), _one(second, setting)) == ("7", "2")
    # the next connection starts from the profile's settings again
    assert _one(_connection(), setting) == "2"


def test_temporary_views_stay_with_their_connection_and_tables_are_shared(
    spark: SparkSession,
) -> None:
    first, second = _connection(), _connection()
    first.cursor().execute("create or replace temporary view only_first as select 1 as x")
    first.cursor().execute("create table shared_by_connections as select 2 as x")
    assert _one(first, "select count(*) from only_first") == 1
    second.cursor().execute("show views like 'only_first'")
    assert second.fetchall() == []
    assert _one(second, "select max(x) from shared_by_connections") == 2
    second.cursor().execute("drop table shared_by_connections")


def test_every_connection_has_the_python_udfs(spark: SparkSession) -> None:
    name = " Acme  Trading Ltd "
    for connection in (_connection(), _connection()):
        assert _one(connection, f"select normalize_merchant_name('{name}')") == (
            normalize_merchant_name(name)
        )


def test_a_python_models_settings_and_temporary_views_stay_with_it(spark: SparkSession) -> None:
    threshold = "spark.sql.autoBroadcastJoinThreshold"
    before = spark.conf.get(threshold)
    model = SparkOssPythonJobHelper(
        {"unique_id": "model.p.m", "original_file_path": "models/m.py", "raw_code": ""},
        _credentials(),
    )
    model.submit(
        f"spark.conf.set('{threshold}', '1')\n"
        "spark.sql('create or replace temporary view from_python as select 1 as x')\n"
        # the model's session has the profile's settings and the Python UDFs
        "assert spark.conf.get('spark.sql.shuffle.partitions') == '2'\n"
        "assert spark.sql(\"select normalize_merchant_name(' acme ')\").first()[0] == "
        f"{normalize_merchant_name(' acme ')!r}\n"
    )
    assert spark.conf.get(threshold) == before
    assert _one(_connection(), f"select '${{{threshold}}}'") == before
    assert not spark.catalog.tableExists("from_python")


def test_only_a_query_leaves_a_data_tests_session_to_the_next_one() -> None:
    """The adapter keeps a data test's session for the next data test of its thread only if
    every statement of it was a query (test_spark_oss_adapter.py runs it end to end)."""
    comment = '/* {"app": "dbt", "node_id": "test.p.t"} */\n'
    queries = ["select 1", "  with a as (select 1) select * from a", "-- note\nSELECT 1"]
    changes = [
        "set spark.sql.shuffle.partitions=5",
        "create temporary view v as select 1",
        "create table failures as select 1",
        "use other_schema",
        "selected",  # not the keyword
        " " * 5000 + "create view v as select 1",  # at once: no exponential backtracking
    ]
    assert [bool(QUERY.match(comment + sql)) for sql in queries + changes] == [True] * len(
        queries
    ) + [False] * len(changes)


def test_a_query_view_keeps_its_analysed_plan_and_the_setting_is_reset(
    spark: SparkSession,
) -> None:
    """What spark_oss_query_view (persist_docs.sql) relies on: a temporary view created while
    `spark.sql.legacy.storeAnalyzedPlanForView` is set keeps the plan analysed then, so reading
    it does not resolve what it reads again (here a view changed since still gives the old
    answer), while one created after the `reset` is analysed anew at each read."""
    connection = _connection()
    connection.cursor().execute("create or replace temporary view answer as select 1 as x")
    connection.cursor().execute("set spark.sql.legacy.storeAnalyzedPlanForView = true")
    connection.cursor().execute("create or replace temporary view kept as select x from answer")
    connection.cursor().execute("reset spark.sql.legacy.storeAnalyzedPlanForView")
    connection.cursor().execute("create or replace temporary view text as select x from answer")
    connection.cursor().execute("create or replace temporary view answer as select 2 as x")
    assert (_one(connection, "select x from kept"), _one(connection, "select x from text")) == (
        1,
        2,
    )
    connection.cursor().execute("set spark.sql.legacy.storeAnalyzedPlanForView")
    assert [tuple(row) for row in connection.fetchall()] == [
        ("spark.sql.legacy.storeAnalyzedPlanForView", "false")
    ]
