"""A dbt command's critical path and its threads: how much a better node order could win at most.

Read after the command from what dbt leaves in its target folder: ``run_results.json`` (when
each node ran, on which thread) and ``graph_summary.json`` (the graph dbt scheduled: with test
edges for ``build``, where a model's children wait for its tests):

- **critical path**: the longest chain of the graph, each node weighing the time it took. No
  order of these nodes, on any number of threads, ends sooner. In a ``build`` a model's unit
  tests run on its thread right before it (dbt queues them with the model), so they weigh with
  it;
- **threads**: the seconds during which 0, 1, 2… nodes were running, from the first node's
  start to the last one's end (the hooks before and after are not nodes);
- **bound**: the longer of the critical path and the nodes' summed time over the command's
  threads. No order of these node times ends sooner; whether one ends that soon is another
  matter. The nodes' span minus the bound is the most a better order could win, as long as a
  node takes as long beside another as it did here (on 2 cores it often does not:
  BENCHMARKS.md, stop 55).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TypedDict

from spark_analytics.bench.dbt_breakdown import iso_seconds, stretches

HOOK_PREFIX = "operation."
UNIT_TEST_PREFIX = "unit_test."


class Schedule(TypedDict):
    nodes: int
    threads: int
    span_s: float
    busy_s: float
    running_s: dict[int, float]  # nodes running at once -> seconds
    critical_path_s: float
    critical_path: list[str]  # unique_ids, first to last
    bound_s: float


def node_runs(run_results: Mapping) -> dict[str, tuple[float, float, str]]:
    """unique_id -> (start, end, thread) of every node that ran (hooks and nodes without timing,
    e.g. skipped ones, left out)."""
    runs = {}
    for result in run_results.get("results", []):
        timing = [t for t in result.get("timing", []) if t.get("started_at")]
        if not timing or result["unique_id"].startswith(HOOK_PREFIX):
            continue
        start = min(iso_seconds(t["started_at"]) for t in timing)
        end = max(iso_seconds(t["completed_at"]) for t in timing)
        runs[result["unique_id"]] = (start, end, result.get("thread_id", ""))
    return runs


def ran_graph(graph_summary: Mapping, ran: set[str], with_tests: bool) -> dict[str, set[str]]:
    """The parents of each node that ran, through nodes that did not run (a model's unrun tests
    in a `dbt run`, a source): the graph dbt scheduled, restricted to what it ran."""
    graph = graph_summary["with_test_edges" if with_tests else "linked"]
    names = {int(index): node["name"] for index, node in graph.items()}
    direct: dict[str, set[str]] = {name: set() for name in names.values()}
    for index, node in graph.items():
        for child in node.get("succ", []):
            direct[names[child]].add(names[int(index)])
    ran_parents: dict[str, set[str]] = {}
    for node in TopologicalSorter(direct).static_order():  # parents first
        ran_parents[node] = set()
        for parent in direct[node]:
            ran_parents[node] |= {parent} if parent in ran else ran_parents[parent]
    return {node: ran_parents.get(node, set()) for node in ran}


def with_unit_tests_in_their_models(
    durations: Mapping[str, float], parents: Mapping[str, set[str]]
) -> tuple[dict[str, float], dict[str, set[str]]]:
    """A build's durations and parents with each unit test's time added to its model's and the
    unit test left out: dbt runs a model's unit tests on its thread just before it. A unit test
    whose model did not run (skipped after a failure) stays a node of its own."""
    merged = dict(durations)
    for node, seconds in durations.items():
        model = _tested_model(node, parents.get(node, set()))
        if model is not None:
            del merged[node]
            merged[model] += seconds
    kept = {node: {p for p in ps if p in merged} for node, ps in parents.items() if node in merged}
    return merged, kept


def _tested_model(node: str, ran_parents: set[str]) -> str | None:
    """The model a unit test (``unit_test.<pkg>.<model>.<name>``) tests, when it ran and is the
    unit test's only parent that ran; else None."""
    if not node.startswith(UNIT_TEST_PREFIX) or len(ran_parents) != 1:
        return None
    _, package, model, *_ = node.split(".")
    (parent,) = ran_parents
    return parent if parent.split(".")[:3] == ["model", package, model] else None


def critical_path(durations: Mapping[str, float], parents: Mapping[str, set[str]]) -> list[str]:
    """The chain of nodes, first to last, whose summed durations are the longest (``parents``:
    each node's parents, all of them nodes of ``durations``)."""
    if not durations:
        return []
    # node -> (seconds of the longest chain ending with it, the node before it on that chain)
    best: dict[str, tuple[float, str | None]] = {}
    order = TopologicalSorter({node: parents.get(node, set()) for node in durations})
    for node in order.static_order():
        previous = max(parents.get(node, ()), key=lambda p: best[p][0], default=None)
        before = best[previous][0] if previous is not None else 0.0
        best[node] = (before + durations[node], previous)
    last: str | None = max(durations, key=lambda node: best[node][0])
    chain = []
    while last is not None:
        chain.append(last)
        last = best[last][1]
    return chain[::-1]


def running_counts(runs: Mapping[str, tuple[float, float, str]]) -> dict[int, float]:
    """Seconds during which 1, 2… nodes were running (0 where none was), between the first start
    and the last end."""
    seconds: Counter[int] = Counter()
    for length, running in stretches((node, start, end) for node, (start, end, _) in runs.items()):
        seconds[len(running)] += length
    return dict(sorted(seconds.items()))


def summary(target: Path, threads: int | None = None) -> Schedule | None:
    """The command's critical path, threads and bound (module docstring), or None when its
    target folder holds no results of one command that ran nodes. ``threads``: what the
    command ran with (dbt_breakdown.configured_threads); by default, the threads seen working."""
    try:
        results = json.loads((target / "run_results.json").read_text())
        graph_summary = json.loads((target / "graph_summary.json").read_text())
    except (OSError, ValueError):
        return None
    if results.get("metadata", {}).get("invocation_id") != graph_summary.get("_invocation_id"):
        return None  # left by two different commands
    runs = node_runs(results)
    if not runs:
        return None
    durations = {node: end - start for node, (start, end, _) in runs.items()}
    with_tests = results.get("args", {}).get("which") == "build"
    parents = ran_graph(graph_summary, set(runs), with_tests)
    weights = durations
    if with_tests:
        weights, parents = with_unit_tests_in_their_models(durations, parents)
    path = critical_path(weights, parents)
    path_s = sum(weights[node] for node in path)
    threads = threads or len({thread for _, _, thread in runs.values()})
    busy = sum(durations.values())
    return {
        "nodes": len(runs),
        "threads": threads,
        "span_s": max(end for _, end, _ in runs.values()) - min(s for s, _, _ in runs.values()),
        "busy_s": busy,
        "running_s": running_counts(runs),
        "critical_path_s": path_s,
        "critical_path": path,
        "bound_s": max(path_s, busy / threads),
    }


def _short(unique_id: str) -> str:
    """``model.pkg.dim_merchants.v2`` -> ``dim_merchants.v2``, ``test.pkg.<name>.<hash>`` ->
    ``test <name>``, ``unit_test.pkg.<model>.<name>`` -> ``unit test <model>.<name>``."""
    kind, *parts = unique_id.split(".")
    if kind == "test" and len(parts) > 1:
        return f"test {parts[1]}"
    name = ".".join(parts[1:]) or unique_id
    return f"unit test {name}" if kind == "unit_test" else name


def format_summary(found: Mapping) -> str:
    """A paragraph for bench.md."""
    running = ", ".join(
        f"{count} for {seconds:.1f} s"
        for count, seconds in found["running_s"].items()
        if seconds >= 0.05
    )
    chain = " → ".join(_short(node) for node in found["critical_path"])
    return (
        f"Its {found['nodes']} nodes ran for {found['span_s']:.1f} s on {found['threads']} "
        f"threads (nodes running at once: {running}). Critical path "
        f"{found['critical_path_s']:.1f} s: {chain}. No order of these node times ends "
        f"before {found['bound_s']:.1f} s (the longer of the critical path and "
        f"{found['busy_s']:.1f} s of node time over {found['threads']} threads)."
    )
