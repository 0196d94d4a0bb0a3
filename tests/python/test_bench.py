"""`make bench` (spark_analytics/bench/marts.py): a smoke run on tiny data, and its parts.

No timing is asserted: the smoke run proves the benchmark runs end to end from the repository
and that its three arms agree; the unit tests prove the agreement check and the dbt time
breakdown can tell a wrong answer and a phase apart.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import networkx as nx
import pytest
from pyspark.sql import SparkSession

from spark_analytics.bench import agree, critical_path, marts, server
from spark_analytics.bench.dbt_breakdown import breakdown, configured_threads
from spark_analytics.bench.test_queries import (
    compare_arms,
    compiled_test_queries,
    parse_arm,
    published_versions,
    read_versions,
    timed_pass,
)
from spark_analytics.warehouse import published_version
from tests.python.dbt_project import IN_ENV, REPO_ROOT, TEST_SPARK_ENV


def _write(path: Path, rows: str) -> Path:
    duckdb.sql(
        f"copy (select * from (values {rows}) t(customer_id, lifetime_spend, segment)) to '{path}'"
    )
    return path


def test_agreement_check_finds_a_changed_value_and_a_missing_row(tmp_path: Path) -> None:
    reference = _write(tmp_path / "a.parquet", "('c1', 10.5, 'Low'), ('c2', 700.25, 'Medium')")
    same = _write(tmp_path / "b.parquet", "('c2', 700.25, 'Medium'), ('c1', 10.5, 'Low')")
    changed = _write(tmp_path / "c.parquet", "('c1', 10.5, 'Low'), ('c2', 700.26, 'Medium')")
    relabeled = _write(tmp_path / "d.parquet", "('c1', 10.5, 'Low'), ('c2', 700.25, 'High')")
    fewer = _write(tmp_path / "e.parquet", "('c1', 10.5, 'Low')")
    assert agree.compare_table(reference, same, "dim_customers") == []
    assert agree.compare_table(reference, changed, "dim_customers") == [
        "dim_customers.lifetime_spend: 1 rows differ"
    ]
    assert agree.compare_table(reference, relabeled, "dim_customers") == [
        "dim_customers.segment: 1 rows differ"
    ]
    assert agree.compare_table(reference, fewer, "dim_customers") == ["dim_customers: 2 rows vs 1"]
    # Without a key (quarantine tables): compared as multisets of rows.
    assert agree.compare_table(reference, same, "quarantine_customers") == []
    assert agree.compare_table(reference, relabeled, "quarantine_customers") == [
        "quarantine_customers: 1 rows differ"
    ]


LOG_START = datetime.fromisoformat("2026-01-01T00:00:01+00:00").timestamp()


def _event(name: str, ts: str, **data: object) -> dict:
    return {"info": {"name": name, "ts": f"2026-01-01T00:00:{ts}Z"}, "data": data}


def _versioned(name: str, version: int) -> dict[str, str]:
    return {"node_name": name, "unique_id": f"model.proj.{name}.v{version}"}


def test_breakdown_separates_parse_spark_start_metadata_hooks_nodes_and_tests() -> None:
    # One thread: each item's end event comes after the previous one's, so each phase is the
    # item's own duration.
    log = [
        _event("MainReportVersion", "01.000000"),
        _event("FoundStats", "03.000000"),
        _event("ConcurrencyLine", "03.500000"),
        _event("SQLQueryStatus", "10.000000", elapsed=6.0),
        _event("SQLQueryStatus", "12.000000", elapsed=1.5),
        # The hook's macro runs a statement while dbt renders the hook.
        _event(
            "SQLQueryStatus", "13.000000", elapsed=0.25, node_info={"resource_type": "operation"}
        ),
        _event("LogHookStartLine", "13.500000"),
        _event("LogHookEndLine", "14.000000", execution_time=0.5),
        _event("LogStartLine", "14.000000"),
        _event("LogModelResult", "24.000000", execution_time=10.0, node_info={"node_name": "fct"}),
        # Two versions of one model share a node_name; the unique_id tells them apart.
        _event("LogModelResult", "24.500000", execution_time=0.5, node_info=_versioned("dim", 2)),
        _event("LogModelResult", "24.750000", execution_time=0.25, node_info=_versioned("dim", 1)),
        _event("LogSeedResult", "25.250000", execution_time=0.5, node_info={"node_name": "cat"}),
        _event("LogSnapshotResult", "25.500000", execution_time=0.25, node_info={"node_name": "s"}),
        _event("LogTestResult", "27.500000", execution_time=2.0),
        _event(
            "LogTestResult",
            "28.250000",
            execution_time=0.75,
            node_info={"resource_type": "unit_test"},
        ),
        # An on-run-end hook whose SQL renders empty: only its macro's statement is logged.
        _event(
            "SQLQueryStatus", "28.500000", elapsed=0.25, node_info={"resource_type": "operation"}
        ),
    ]
    parts = breakdown(log, started_at=LOG_START - 0.75, wall_s=30.0)
    assert parts == pytest.approx(
        {
            "python start": 0.75,
            "parse": 2.0,
            "spark start": 6.0,
            "metadata queries": 1.5,
            "hooks": 0.25 + 0.5 + 0.25,
            "model fct": 10.0,
            "model dim.v2": 0.5,
            "model dim.v1": 0.25,
            "seed cat": 0.5,
            "snapshot s": 0.25,
            "data tests": 2.0,
            "unit tests": 0.75,
            # From the last event (28.5 s) to the command's end (it started at 0.25 s and ran 30 s).
            "shutdown": 1.75,
            "other": 30.0 - 25.5 - 1.75,
        }
    )


def test_breakdown_with_threads_shares_overlapping_time_and_adds_up_to_the_wall_time() -> None:
    model = {"node_name": "m"}
    log = [
        _event("MainReportVersion", "01.000000"),
        _event("FoundStats", "02.000000"),
        _event("ConcurrencyLine", "03.500000"),
        # Two threads' first queries: both wait for the session the first one starts.
        _event("SQLQueryStatus", "10.000000", elapsed=6.0),
        _event("SQLQueryStatus", "10.500000", elapsed=6.4),
        _event("LogStartLine", "11.000000"),
        _event("LogModelResult", "15.000000", execution_time=4.0, node_info={"node_name": "a"}),
        _event("LogModelResult", "19.000000", execution_time=4.0, node_info={"node_name": "b"}),
        _event("LogModelResult", "19.000000", execution_time=4.0, node_info={"node_name": "c"}),
        _event("LogTestResult", "21.000000", execution_time=2.0),
        _event("LogTestResult", "23.000000", execution_time=4.0),
        _event("LogModelResult", "25.000000", execution_time=2.0, node_info=model),
        _event("LogTestResult", "25.000000", execution_time=2.0),
    ]
    parts = breakdown(log, started_at=LOG_START - 1.0, wall_s=26.0)
    assert parts == pytest.approx(
        {
            "python start": 1.0,
            "parse": 1.0,
            "spark start": 6.0,
            "metadata queries": 0.5,  # the second query's time after the session was ready
            "hooks": 0.0,
            "model a": 4.0,  # alone
            "model b": 2.0,  # beside c all along
            "model c": 2.0,
            # Two at once for 2 s, then one alone for 2 s, then one beside model m for 2 s.
            "data tests": 2.0 + 2.0 + 1.0,
            "model m": 1.0,
            "shutdown": 1.0,
            "other": 26.0 - 22.5 - 1.0,
        }
    )
    assert sum(parts.values()) == pytest.approx(26.0)
    # Summed node times would have counted 8 s of models b and c in 4 s of wall time.
    assert parts["model b"] + parts["model c"] == pytest.approx(19.0 - 15.0)


def _results(nodes: dict[str, tuple[float, float, str]], which: str = "build") -> dict:
    """A run_results.json of nodes as (start, end, thread), seconds after 2026-01-01."""

    def at(seconds: float) -> str:
        return datetime.fromtimestamp(LOG_START + seconds, tz=UTC).isoformat()

    return {
        "metadata": {"invocation_id": "inv-1"},
        "args": {"which": which},
        "results": [
            {
                "unique_id": node,
                "thread_id": thread,
                "timing": [
                    {"name": "compile", "started_at": at(start), "completed_at": at(start + 0.1)},
                    {"name": "execute", "started_at": at(start + 0.1), "completed_at": at(end)},
                ],
            }
            for node, (start, end, thread) in nodes.items()
        ],
    }


def _graph_summary(linked: dict[str, list[str]], test_edges: dict[str, list[str]]) -> dict:
    """A graph_summary.json: name -> children, without and with dbt's test edges."""
    every = (
        *linked,
        *test_edges,
        *(c for cs in (*linked.values(), *test_edges.values()) for c in cs),
    )
    names = sorted(set(every))
    index = {name: i for i, name in enumerate(names)}

    def numbered(edges: dict[str, list[str]]) -> dict:
        return {
            str(index[n]): {"name": n, "succ": [index[c] for c in edges.get(n, [])]} for n in names
        }

    return {
        "_invocation_id": "inv-1",
        "linked": numbered(linked),
        "with_test_edges": numbered(test_edges),
    }


def test_critical_path_is_the_longest_chain_of_a_random_graph() -> None:
    # Checked against networkx's own longest path (each edge weighing its child's duration).
    rng = random.Random(55)
    for _ in range(50):
        nodes = [f"n{i}" for i in range(rng.randint(1, 12))]
        durations = {n: rng.uniform(0.1, 5.0) for n in nodes}
        parents = {n: {p for p in nodes[:i] if rng.random() < 0.3} for i, n in enumerate(nodes)}
        chain = critical_path.critical_path(durations, parents)
        assert all(chain[i] in parents[chain[i + 1]] for i in range(len(chain) - 1))
        graph = nx.DiGraph()
        graph.add_node("start")
        graph.add_edges_from(("start", n, {"w": durations[n]}) for n in nodes)
        graph.add_edges_from((p, n, {"w": durations[n]}) for n in nodes for p in parents[n])
        longest = nx.dag_longest_path_length(graph, weight="w")
        assert sum(durations[n] for n in chain) == pytest.approx(longest)


def test_the_graph_dbt_ran_links_through_nodes_that_did_not_run() -> None:
    summary = _graph_summary(
        linked={"source.raw": ["model.a"], "model.a": ["test.a", "model.b"]},
        # dbt build: the test of a runs before b
        test_edges={"source.raw": ["model.a"], "model.a": ["test.a"], "test.a": ["model.b"]},
    )
    ran = {"model.a", "model.b"}  # a `dbt run`: the test and the source did not run
    assert critical_path.ran_graph(summary, ran, with_tests=False) == {
        "model.a": set(),
        "model.b": {"model.a"},
    }
    assert critical_path.ran_graph(summary, ran | {"test.a"}, with_tests=True) == {
        "model.a": set(),
        "test.a": {"model.a"},
        "model.b": {"test.a"},
    }


def _write_target(target: Path, results: dict, graph_summary: dict) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    (target / "run_results.json").write_text(json.dumps(results))
    (target / "graph_summary.json").write_text(json.dumps(graph_summary))
    return target


def test_schedule_summary_of_a_build_on_two_threads(tmp_path: Path) -> None:
    # a -> its test -> c is the build's critical path: a's unit test (1 s, on a's thread right
    # before it) + a (1 s) + the test (3 s) + c (2 s) = 7 s; b runs beside the test.
    nodes = {
        "operation.p.p-on-run-start-0": (0.0, 1.0, "main"),  # a hook: not a node
        "unit_test.p.a.case": (1.0, 2.0, "Thread-1"),
        "model.p.a": (2.0, 3.0, "Thread-1"),
        "test.p.not_null_a.x1": (3.0, 6.0, "Thread-1"),
        "model.p.b": (3.0, 5.0, "Thread-2"),
        "model.p.c": (6.0, 8.0, "Thread-2"),
    }
    linked = {"model.p.a": ["unit_test.p.a.case", "test.p.not_null_a.x1", "model.p.b", "model.p.c"]}
    build_edges = {**linked, "test.p.not_null_a.x1": ["model.p.c"]}
    summary = _graph_summary(linked, build_edges)
    built = _write_target(tmp_path / "build", _results(nodes, "build"), summary)
    found = critical_path.summary(built)
    assert found is not None
    assert found["critical_path"] == ["model.p.a", "test.p.not_null_a.x1", "model.p.c"]
    assert found["critical_path_s"] == pytest.approx(7.0, abs=1e-3)
    assert (found["nodes"], found["threads"]) == (5, 2)  # the threads seen working
    assert found["span_s"] == pytest.approx(7.0, abs=1e-3)
    assert found["busy_s"] == pytest.approx(9.0, abs=1e-3)
    # 1-3 the unit test then a, 3-5 b beside the test, 5-8 one at a time
    assert found["running_s"] == pytest.approx({1: 5.0, 2: 2.0}, abs=1e-3)
    assert found["bound_s"] == pytest.approx(7.0, abs=1e-3)  # the path beats 9 s / 2 threads
    text = critical_path.format_summary(found)
    assert "Critical path 7.0 s: a → test not_null_a → c." in text
    assert "before 7.0 s" in text
    # On one configured thread the summed time is the bound.
    assert critical_path.summary(built, threads=1)["bound_s"] == pytest.approx(9.0, abs=1e-3)
    # A `dbt run` schedules by the graph without test edges: there c waits for a only, not for
    # b through a relationships test on a and b (as it would in a build).
    test = "test.p.relationships_a_b.x2"
    run_graph = _graph_summary(
        linked={"model.p.a": [test, "model.p.c"], "model.p.b": [test]},
        test_edges={"model.p.a": [test, "model.p.c"], "model.p.b": [test], test: ["model.p.c"]},
    )
    ran = {"model.p.a": (0, 1, "T1"), "model.p.b": (0, 3, "T2"), "model.p.c": (1, 2, "T1")}
    run = _write_target(tmp_path / "run", _results(ran, "run"), run_graph)
    assert critical_path.summary(run)["critical_path"] == ["model.p.b"]  # 3 s against a, c: 2
    # A unit test whose model was skipped (no timing) stays a node of its own.
    skipped = {n: t for n, t in nodes.items() if n != "model.p.a"}
    alone = critical_path.summary(_write_target(tmp_path / "skip", _results(skipped), summary))
    assert alone["critical_path"] == ["test.p.not_null_a.x1", "model.p.c"]
    # A `dbt test` queues unit tests like data tests, and names them as such.
    tested = {"unit_test.p.a.case": (0, 5, "T1"), "test.p.not_null_a.x1": (0, 1, "T2")}
    test_run = critical_path.summary(
        _write_target(tmp_path / "ut", _results(tested, "test"), summary)
    )
    assert "Critical path 5.0 s: unit test a.case." in critical_path.format_summary(test_run)
    # Nothing, or files of two different commands: no summary.
    assert critical_path.summary(tmp_path / "no-such-target") is None
    other = _results(nodes, "build") | {"metadata": {"invocation_id": "inv-2"}}
    assert critical_path.summary(_write_target(tmp_path / "mixed", other, summary)) is None


def test_the_threads_dbt_ran_with_come_from_its_log() -> None:
    log = [_event("MainReportVersion", "01.000000"), _event("ConcurrencyLine", "02.000000")]
    log[1]["data"] = {"num_threads": 4, "target_name": "local"}
    assert configured_threads(log) == 4
    assert configured_threads(log[:1]) is None


def test_scaling_exponent_of_linear_and_quadratic_work() -> None:
    assert marts.scaling_exponent([10, 100, 1000], [2.0, 20.0, 200.0]) == pytest.approx(1.0)
    assert marts.scaling_exponent([10, 100], [1.0, 100.0]) == pytest.approx(2.0)
    assert marts.scaling_exponent([10], [1.0]) is None


def test_test_queries_finds_compiled_data_tests_and_reports_what_spark_cannot_run(
    tmp_path: Path, spark: SparkSession
) -> None:
    compiled = tmp_path / "target" / "compiled" / "proj"
    tests = compiled / "models" / "marts" / "_marts__models.yml"
    tests.mkdir(parents=True)
    (tests / "not_null_t_id.sql").write_text(
        "select id from values (1), (null) as t(id) where id is null"
    )
    (tests / "unique_missing_id.sql").write_text("select id from no_such_table")
    (compiled / "models" / "marts" / "t.sql").write_text("select 1 as id")  # a model, not a test
    queries = compiled_test_queries(tmp_path / "target")
    assert sorted(queries) == ["not_null_t_id", "unique_missing_id"]
    # dbt's wrapping: the test's failing rows counted.
    assert spark.sql(queries["not_null_t_id"]).collect()[0]["failures"] == 1
    seconds, failed = timed_pass(spark, queries)
    assert failed == ["unique_missing_id"] and seconds > 0


def test_test_queries_arm_syntax() -> None:
    assert parse_arm("aqe off: spark.sql.adaptive.enabled=false,a.b=x=y") == (
        "aqe off",
        {"spark.sql.adaptive.enabled": "false", "a.b": "x=y"},
    )
    for bad in ("no-colon", "name:", ":a=b", "name:a=b,c", "name:=x"):
        with pytest.raises(ValueError, match="expected 'NAME:KEY=VALUE"):
            parse_arm(bad)
    with pytest.raises(ValueError, match="given twice"):
        parse_arm("name:a=1,a=2")


def test_test_queries_compare_arms_and_read_the_version_tables(spark: SparkSession) -> None:
    spark.sql("create database if not exists bench_tq_versions")
    spark.sql("create database if not exists bench_tq")
    try:
        version = "bench_tq_versions.t__v00000000000000000001"
        spark.sql(f"create table {version} using parquet as select 1 as id")
        spark.sql(f"create view bench_tq.t as select * from {version}")
        spark.sql("create view bench_tq.t2 as select id + 1 as id from bench_tq.t")
        versions = published_versions(spark)
        assert versions["bench_tq.t"] == version
        assert "bench_tq.t2" not in versions  # a view with logic of its own is not published
        # The version naming is the warehouse module's: a 20-digit id, nothing else.
        assert published_version("select * from bench_tq_versions.t__v1") is None
        sql = "select * from bench_tq.t join bench_tq.t2 using (id) join `bench_tq.t` using (id)"
        assert read_versions(sql, versions) == sql.replace("from bench_tq.t ", f"from {version} ")

        # Under ANSI, a bad cast fails the query: each arm runs with its own settings only.
        queries = {
            "cast": "select cast('x' as int) as n",
            "count": f"select count(*) from {version}",
        }
        ansi_before = spark.conf.get("spark.sql.ansi.enabled", None)
        results = compare_arms(
            spark,
            {
                "lenient": ({"spark.sql.ansi.enabled": "false"}, queries),
                "ansi": ({"spark.sql.ansi.enabled": "true"}, queries),
                "fewer queries": ({}, {"count": queries["count"]}),
            },
            rounds=2,
        )
        assert results["lenient"][1] == [] and results["fewer queries"][1] == []
        assert results["ansi"][1] == ["cast"]
        assert all(len(seconds) == 2 and min(seconds) > 0 for seconds, _ in results.values())
        # Restored as it was: the same value, or unset if it was unset.
        assert spark.conf.get("spark.sql.ansi.enabled", None) == ansi_before
    finally:
        spark.sql("drop database if exists bench_tq cascade")
        spark.sql("drop database if exists bench_tq_versions cascade")


def test_make_bench_smoke_run_on_tiny_data(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**TEST_SPARK_ENV, "SPARK_STATE_DIR": str(tmp_path / "unused")}
    result = subprocess.run(
        [
            str(IN_ENV),
            sys.executable,
            "-m",
            "spark_analytics.bench.marts",
            "--sizes",
            "3000",
            "--repeat",
            "1",
            "--skip-build",
            "--skip-hints",
            "--warm-server",
            "--server-warmup",
            "0",  # the warm-up itself: test_warm_up_builds_run_first_and_are_not_timed
            "--workdir",
            str(tmp_path / "bench"),
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "outputs agree at 3,000 rows: yes" in result.stdout
    assert result.stdout.count("| 3,000 | DuckDB |") == 1  # one size: its table once, at the end
    report = json.loads((out / "bench.json").read_text())
    assert report["outputs_agree"] is True
    assert {r["arm"] for r in report["results"]} == {
        marts.RUN_ARM,
        "PySpark job",
        "DuckDB",
        server.ARM,
        server.TEST_ARM,  # after each server build; --skip-build leaves out the embedded pair
    }
    # The server's build wrote the same marts as the other arms.
    assert report["compared"] == ["dbt", "PySpark job", "DuckDB", "dbt on the local server"]
    assert report["server_warmup_s"] == {"3000": []}
    assert "model fct_purchases" in report["dbt_breakdown"]["3000"][server.ARM]
    tested = report["dbt_breakdown"]["3000"][server.TEST_ARM]
    assert tested["data tests"] > 0 and not any(part.startswith("model ") for part in tested)
    assert not (tmp_path / "bench" / "3000" / "server" / "cluster.json").exists()  # stopped
    for row in report["results"]:
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_rss_gib"] > 0
        assert len(row["wall_s_rounds"]) == 1  # --repeat 1; the median is over these
        assert abs(row["wall_s_rounds"][0] - row["wall_s"]) <= 0.05
        if row["arm"] == server.TEST_ARM:  # it writes no marts to compare
            assert "x PySpark job" not in row and "x DuckDB" not in row
        else:
            assert row["x PySpark job"] > 0 and row["x DuckDB"] > 0
    parts = report["dbt_breakdown"]["3000"][marts.RUN_ARM]
    assert {"parse", "spark start", "hooks", "model fct_purchases"} <= set(parts)
    # The server's build: its critical path runs through the tests of the models on it.
    schedule = report["dbt_schedule"]["3000"][server.ARM]
    assert "model.spark_analytics.fct_purchases" in schedule["critical_path"]
    assert any(node.startswith("test.") for node in schedule["critical_path"])
    assert schedule["bound_s"] <= schedule["span_s"] + 0.01  # what dbt's own order reached
    assert "Critical path" in (out / "bench.md").read_text()
    # The graph read for the embedded `dbt run` (its target's last command) is the one dbt
    # enforced: no node started before a parent of it ended.
    target = tmp_path / "bench" / "3000" / "target"
    results = json.loads((target / "run_results.json").read_text())
    runs = critical_path.node_runs(results)
    graph = critical_path.ran_graph(
        json.loads((target / "graph_summary.json").read_text()), set(runs), with_tests=False
    )
    assert sum(map(len, graph.values())) > 10
    for node, parents in graph.items():
        for parent in parents:
            assert runs[node][0] >= runs[parent][1] - 0.01, (parent, node)
    assert report["hints"] == ""  # skipped here: make bench runs it
    assert (out / "bench.png").stat().st_size > 10_000
    assert "| 3,000 | DuckDB |" in (out / "bench.md").read_text()
    assert "Scaling exponent b (wall ~ rows^b): needs two sizes or more" in result.stdout


def test_measure_cli_reports_the_tree_of_the_command_and_its_exit_code() -> None:
    """The child's memory counts: a Python child holding 200 MB pushes the peak above it."""
    import subprocess
    import sys

    child = "x = bytearray(200 * 2**20); import time; time.sleep(1.5); print('child done')"
    parent = (
        f"import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c', {child!r}]) + 3)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "spark_analytics.bench.measure",
            "--interval",
            "0.1",
            "--",
            sys.executable,
            "-c",
            parent,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 3, out.stderr
    assert "child done" in out.stdout
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("measured: rc=3 "), line
    peak_gib = float(line.split("peak=")[1].removesuffix("GiB"))
    assert peak_gib > 200 / 1024, line


def test_measure_splits_the_cpu_by_thread_name() -> None:
    """A child busy in a thread it names counts under that name; the groups add up to the tree."""
    import sys

    from spark_analytics.bench.measure import measure, thread_group

    busy = (
        "import ctypes, threading, time\n"
        "def spin():\n"
        "    ctypes.CDLL(None).prctl(15, b'busy worker 7')  # PR_SET_NAME: the OS thread name\n"
        "    end = time.process_time() + 1.0\n"
        "    while time.process_time() < end: pass\n"
        "t = threading.Thread(target=spin); t.start(); t.join(); time.sleep(0.3)\n"
    )
    result = measure([sys.executable, "-c", busy], interval=0.1)
    assert result.returncode == 0, result.stderr
    assert result.cpu_by_thread.get("busy worker N", 0) >= 0.7, result.cpu_by_thread
    assert sum(result.cpu_by_thread.values()) <= result.cpu_s + 0.3
    assert thread_group("C2 CompilerThre") == "C2 CompilerThre"
    assert thread_group("GC Thread#12") == "GC Thread#N"


def test_measure_counts_a_process_once_when_the_clock_is_stepped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The system clock moving (NTP, a virtual machine's clock catching up) moves every process's
    creation time as psutil reports it (the boot time, read anew, plus the start since boot).
    measure must still see one process, not a new one at each sample that adds the CPU it had
    used so far and its memory again: a 1M `make bench` once reported the PySpark job at 341.5 s
    of CPU in 50.8 s on 2 cores, and 8.6 GiB (BENCHMARKS.md, stop 68). Its CPU must agree with
    what the OS charged the finished child (an independent reading)."""
    import itertools
    import resource
    import sys

    import psutil._pslinux

    from spark_analytics.bench.measure import measure

    boot = psutil._pslinux.boot_time()
    steps = itertools.count()
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: boot + next(steps))
    # The busy process is a child of the command, as a driver's JVM is of its Python process:
    # the tree finds it anew at every sample.
    spin = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass\n"
    parent = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}])\n"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = measure([sys.executable, "-c", parent], interval=0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    charged = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert result.returncode == 0, result.stderr
    # psutil read the boot time for each child object of each sample (about 70 times when
    # idle), so the clock moved between samples, several times.
    assert next(steps) >= 10
    assert charged >= 1.5
    # Sampled, so the last moments of each process are missed. /proc counts whole clock ticks,
    # rounded down, and getrusage microseconds, so the sampled CPU is never more than charged;
    # the margin is slack only.
    assert 0.5 * charged <= result.cpu_s <= charged + 0.05, (result.cpu_s, charged)
    assert result.cpu_by_process["python -c"][1] == 2, result.cpu_by_process  # each once
    # Two small interpreters, each counted once: about 22 MiB (the former code added about
    # 10 MiB at each sample).
    assert result.peak_rss_bytes < 100 * 2**20, result.peak_rss_bytes


def test_measure_splits_the_cpu_by_process_kind_and_follows_a_daemon(tmp_path: Path) -> None:
    """A grandchild whose parent exits at once (a daemon, like the local cluster's JVMs) leaves
    the tree and still counts, under its own kind; the kinds add up to the tree."""
    import sys

    from spark_analytics.bench.measure import measure

    busy = tmp_path / "busy_daemon.py"
    busy.write_text(
        "import pathlib, sys, time\n"
        "end = time.process_time() + 1.0\n"
        "while time.process_time() < end: pass\n"
        "pathlib.Path(sys.argv[1]).write_text('done')\n"
    )
    done = tmp_path / "done"
    # the starter lives a few samples, as `cluster up` does while its daemons start
    start_daemon = (
        "import subprocess, sys, time\n"
        f"command = [sys.executable, {str(busy)!r}, {str(done)!r}]\n"
        "subprocess.Popen(command, start_new_session=True)\n"
        "time.sleep(0.5)\n"
    )
    wait = (
        "import pathlib, subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {start_daemon!r}], check=True)\n"
        f"while not pathlib.Path({str(done)!r}).exists():\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.3)\n"
    )
    result = measure([sys.executable, "-c", wait], interval=0.1)
    assert result.returncode == 0, result.stderr
    cpu, count = result.cpu_by_process["python busy_daemon.py"]
    assert cpu >= 0.7 and count == 1, result.cpu_by_process
    assert result.cpu_by_process["python -c"][1] == 2  # the waiting parent, the exited starter
    total = sum(cpu for cpu, _ in result.cpu_by_process.values())
    assert abs(total - result.cpu_s) < 1e-6


def test_measure_counts_a_server_from_when_the_command_starts(tmp_path: Path) -> None:
    """A process outside the tree (`also`, e.g. the warm server) that had used CPU before the
    command: only what it uses while the command runs counts, and its memory joins the peak."""
    import sys

    import psutil

    from spark_analytics.bench.measure import measure

    # Busy for 1 s of CPU, then for 0.5 s more once the command has started (then says so).
    started, spun = tmp_path / "started", tmp_path / "spun"
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, sys, time\n"
            "def spin(seconds):\n"
            "    end = time.process_time() + seconds\n"
            "    while time.process_time() < end: pass\n"
            "spin(1.0)\n"
            "print('ready', flush=True)\n"
            "while not pathlib.Path(sys.argv[1]).exists(): time.sleep(0.02)\n"
            "spin(0.5)\n"
            "pathlib.Path(sys.argv[2]).write_text('spun')\n"
            "time.sleep(120)\n",
            str(started),
            str(spun),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    # The command waits for the server's work, however loaded the machine, then lets the
    # sampler see it once more.
    command = (
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('go')\n"
        "end = time.monotonic() + 60\n"
        f"while not pathlib.Path({str(spun)!r}).exists() and time.monotonic() < end:\n"
        "    time.sleep(0.02)\n"
        "time.sleep(0.4)\n"
    )
    try:
        assert busy.stdout is not None and busy.stdout.readline() == "ready\n"
        server_rss = psutil.Process(busy.pid).memory_info().rss
        alone = measure([sys.executable, "-c", "import time; time.sleep(0.4)"], interval=0.1)
        result = measure([sys.executable, "-c", command], interval=0.1, also=lambda: [busy.pid])
    finally:
        busy.kill()
        busy.wait()
    assert result.returncode == 0 and spun.exists(), result.stderr
    server_cpu = result.cpu_s - alone.cpu_s
    assert 0.4 <= server_cpu <= 1.0, (result.cpu_s, alone.cpu_s)  # 0.5 s, not 1.5 s
    assert result.peak_rss_bytes >= alone.peak_rss_bytes + 0.5 * server_rss
    with pytest.raises(ValueError, match="no running process"):
        measure([sys.executable, "-c", "pass"], also=lambda: [])


def test_warm_up_builds_run_first_and_are_not_timed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    on = server.LocalServer({}, ())
    runs: list[str] = []

    def run_arm(arm: str, _space, result: marts.ArmResult, given=None) -> None:
        assert given is on  # every arm is handed the server; run_arm decides who uses it
        runs.append(arm)
        result.wall_s.append(float(len(runs)))

    calls: list[str] = []
    monkeypatch.setattr(marts, "prepare", lambda *_: calls.append("prepare"))
    monkeypatch.setattr(server, "stop_leftover", lambda *_: calls.append("stop leftover"))
    monkeypatch.setattr(server, "local_server", lambda *_: contextlib.nullcontext(on))
    monkeypatch.setattr(marts, "run_arm", run_arm)
    space = marts.Workspace(tmp_path, 1000)
    arms = [server.ARM, server.TEST_ARM, "DuckDB"]
    results = marts.bench_size(space, arms, repeat=2, seed=1, warmup=2)
    assert calls == ["stop leftover", "prepare"]
    warm_up, round_1, round_2 = runs[:2], runs[2:5], runs[5:]
    assert warm_up == [server.ARM, server.ARM]
    assert round_1 == [server.ARM, server.TEST_ARM, "DuckDB"]
    assert round_2 == ["DuckDB", server.ARM, server.TEST_ARM]
    assert results[server.ARM].warmup_s == [1.0, 2.0]  # the two warm-up builds, apart
    assert results[server.ARM].wall_s == [3.0, 7.0]
    assert results[server.TEST_ARM].wall_s == [4.0, 8.0]
    assert results["DuckDB"].wall_s == [5.0, 6.0]


def test_each_dbt_test_runs_right_after_its_build_outside_the_rotation() -> None:
    build, test = marts.BUILD_ARM, marts.TEST_ARM
    arms = [build, test, "DuckDB", server.ARM, server.TEST_ARM]
    assert marts.round_orders(arms, 3) == [
        [build, test, "DuckDB", server.ARM, server.TEST_ARM],
        ["DuckDB", server.ARM, server.TEST_ARM, build, test],
        [server.ARM, server.TEST_ARM, build, test, "DuckDB"],
    ]
    assert marts.round_orders([build, "DuckDB"], 2) == [[build, "DuckDB"], ["DuckDB", build]]
    with pytest.raises(ValueError, match="runs only after its build"):
        marts.round_orders([server.TEST_ARM, "DuckDB"], 1)


@pytest.mark.parametrize("skip_build", [False, True])
@pytest.mark.parametrize("warm_server", [False, True])
@pytest.mark.parametrize("skip_tests", [False, True])
def test_the_flags_select_each_build_with_its_test(
    skip_build: bool, warm_server: bool, skip_tests: bool
) -> None:
    arms = marts.selected_arms(skip_build, warm_server, skip_tests)
    expected = [marts.RUN_ARM]
    expected += [] if skip_build else [marts.BUILD_ARM] + ([] if skip_tests else [marts.TEST_ARM])
    expected += ["PySpark job", "DuckDB"]
    if warm_server:
        expected += [server.ARM] + ([] if skip_tests else [server.TEST_ARM])
    assert arms == expected
    marts.round_orders(arms, 1)  # every selection is runnable


def test_only_the_server_arms_need_the_server(tmp_path: Path) -> None:
    space = marts.Workspace(tmp_path, 1000)
    for arm in server.ON_SERVER:
        with pytest.raises(ValueError, match="none was started"):
            marts.run_arm(arm, space, marts.ArmResult(), None)


def test_dbt_test_arms_get_no_ratio_to_the_arms_that_write_the_marts() -> None:
    results = {
        arm: marts.ArmResult(wall_s=[wall], cpu_s=[1.0], peak_rss_bytes=[1])
        for arm, wall in [
            (marts.BUILD_ARM, 40.0),
            (marts.TEST_ARM, 10.0),
            ("PySpark job", 20.0),
            ("DuckDB", 2.0),
        ]
    }
    rows = {row["arm"]: row for row in marts.summary_rows(1000, results)}
    assert (
        rows[marts.BUILD_ARM]["x PySpark job"] == 2.0 and rows[marts.BUILD_ARM]["x DuckDB"] == 20.0
    )
    assert not any(key.startswith("x ") for key in rows[marts.TEST_ARM])
    assert f"| {marts.TEST_ARM} | 10.0 | 10.0 |" in marts.format_table(list(rows.values()))


def test_the_benchmark_server_runs_apart_from_the_users_settings_and_always_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = {
        "PATH": "/usr/bin",
        "DBT_THREADS": "3",
        "CLUSTER_EXTRA_CONF": "spark.executor.memory=64g",
        "CLUSTER_SHUFFLE_PARTITIONS": "7",
        "SPARK_THRIFT_HOST": "warehouse.example.com",
        "SPARK_THRIFT_AUTH": "LDAP",
        "SPARK_CONNECT_AUTHENTICATE_TOKEN": "not ours",
    }
    env = server.server_env(user, tmp_path)
    assert env["PATH"] == "/usr/bin" and env["SPARK_THRIFT_THREADS"] == "3"
    assert (env["SPARK_THRIFT_HOST"], env["SPARK_THRIFT_AUTH"]) == ("127.0.0.1", "NONE")
    assert "CLUSTER_EXTRA_CONF" not in env and "CLUSTER_SHUFFLE_PARTITIONS" not in env
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" not in env and env["CLUSTER_WORKERS"] == "0"
    ports = {
        env[name] for name in ("SPARK_THRIFT_PORT", "SPARK_CONNECT_PORT", "CLUSTER_APP_UI_PORT")
    }
    assert len(ports) == 3 and all(20000 <= int(port) < 32000 for port in ports)
    assert env["SPARK_CONNECT_URL"] == f"sc://127.0.0.1:{env['SPARK_CONNECT_PORT']}"

    calls: list[str] = []
    monkeypatch.setattr(server, "_cluster", lambda command, *_: calls.append(command))
    monkeypatch.setattr(server, "read_token", lambda _settings: "token")
    with server.local_server(tmp_path, user, tmp_path) as on:
        assert on.env["SPARK_CONNECT_TOKEN"] == "token" and calls == ["down", "up"]
    assert calls == ["down", "up", "down"]
    calls.clear()
    with pytest.raises(KeyError, match="the build's own error"):
        with server.local_server(tmp_path, user, tmp_path):
            raise KeyError("the build's own error")
    assert calls == ["down", "up", "down"]


def test_process_kind_names_cluster_jvms_by_role_and_drivers_by_their_program() -> None:
    from spark_analytics.bench.measure import process_kind

    java = "/opt/jdk/bin/java"
    venv_python = "/repo/.venv/bin/python3"
    runner = [venv_python, "/repo/tests/python/warm_dbt.py"]
    worker = [venv_python, "-u", "-c", "import sys;exec(eval(sys.stdin.readline()))"]
    driver = [java, "-cp", "jars/*", "org.apache.spark.deploy.SparkSubmit", "pyspark-shell"]
    assert process_kind(driver, [runner, worker]) == "JVM of warm dbt runner"
    assert process_kind(driver, [[venv_python, "/repo/.venv/bin/dbt", "build"]]) == (
        "JVM of dbt process"
    )
    assert process_kind(driver, [["/bin/bash", "x.sh"], worker]) == "JVM of pytest worker"
    assert process_kind(driver) == "JVM"
    executor = [java, "-cp", "x", "org.apache.spark.executor.CoarseGrainedExecutorBackend"]
    assert process_kind(executor, [worker]) == "JVM: cluster executor"
    assert process_kind([venv_python, "-m", "spark_analytics.cluster", "up"]) == (
        "python -m spark_analytics.cluster"
    )
    assert process_kind([venv_python, "-m", "pytest", "-q"]) == "pytest"
    assert process_kind(worker) == "pytest worker"
    assert process_kind(["/usr/lib/chromium/chromium", "--headless"]) == "chromium"
    assert process_kind([]) == "?"
