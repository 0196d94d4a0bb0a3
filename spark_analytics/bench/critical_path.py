"""How far a dbt command's node order was from the best one: its critical path and its threads.

Read after the command from what dbt leaves in its target folder: ``run_results.json`` (when
each node ran, on which thread) and ``graph_summary.json`` (the graph it ran: with test edges
for ``build``, where a model's children wait for its tests):

- **critical path**: the longest chain of the graph, each node weighing the time it took. No
  order of these nodes, on any number of threads, ends sooner;
- **threads**: the seconds during which 0, 1, 2… nodes were running, from the first node's
  start to the last one's end (the hooks before and after are not nodes);
- **bound**: the longer of the critical path and the nodes' summed time over the threads. With
  these node times no order ends sooner; the nodes' span minus the bound is what a better order
  could win at most, as long as a node takes as long beside another as it did here (on 2 cores
  it often does not: BENCHMARKS.md, stop 55).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from graphlib import TopologicalSorter
from pathlib import Path

HOOK_PREFIX = "operation."


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def node_runs(run_results: Mapping) -> dict[str, tuple[float, float, str]]:
    """unique_id -> (start, end, thread) of every node that ran (hooks and nodes without timing,
    e.g. skipped ones, left out)."""
    runs = {}
    for result in run_results.get("results", []):
        timing = [t for t in result.get("timing", []) if t.get("started_at")]
        if not timing or result["unique_id"].startswith(HOOK_PREFIX):
            continue
        start = min(_ts(t["started_at"]) for t in timing)
        end = max(_ts(t["completed_at"]) for t in timing)
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


def critical_path(durations: Mapping[str, float], parents: Mapping[str, set[str]]) -> list[str]:
    """The chain of nodes, first to last, whose summed durations are the longest."""
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
    """Seconds during which 0, 1, 2… nodes were running, between the first start and the last
    end."""
    edges = sorted({t for start, end, _ in runs.values() for t in (start, end)})
    seconds: Counter[int] = Counter()
    for left, right in zip(edges, edges[1:], strict=False):
        seconds[sum(start <= left and right <= end for start, end, _ in runs.values())] += (
            right - left
        )
    return dict(sorted(seconds.items()))


def summary(target: Path) -> dict | None:
    """The command's critical path, threads and bound (module docstring), or None when its
    target folder holds no results of a command that ran nodes."""
    try:
        results = json.loads((target / "run_results.json").read_text())
        graph_summary = json.loads((target / "graph_summary.json").read_text())
    except (OSError, ValueError):
        return None
    runs = node_runs(results)
    if not runs:
        return None
    durations = {node: end - start for node, (start, end, _) in runs.items()}
    with_tests = results.get("args", {}).get("which") == "build"
    path = critical_path(durations, ran_graph(graph_summary, set(runs), with_tests))
    threads = len({thread for _, _, thread in runs.values()})
    busy = sum(durations.values())
    path_s = sum(durations[node] for node in path)
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
        f"{found['critical_path_s']:.1f} s: {chain}. With these node times no order ends "
        f"before {found['bound_s']:.1f} s (the longer of the critical path and "
        f"{found['busy_s']:.1f} s of node time over {found['threads']} threads)."
    )
