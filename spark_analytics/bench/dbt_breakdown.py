"""Where a dbt invocation's time goes, read from its JSON file log (``--log-format-file json``).

dbt writes its file log at debug level by default, so the breakdown costs the run nothing extra:

- ``python start``: from the process start to dbt's first event (interpreter and imports);
- ``parse``: to the ``FoundStats`` event (project parse, partial parsing when possible);
- ``spark start``: the first query after ``ConcurrencyLine`` (dbt-spark's session cursor starts
  the JVM and the Hive-enabled SparkSession inside its first ``execute``);
- ``metadata queries``: the other queries before the first hook or node (schema listings,
  the relation cache), summed from ``SQLQueryStatus``;
- ``hooks``; one entry per model, seed and snapshot (its execution time); ``data tests`` and
  ``unit tests`` (each summed);
- ``other``: what remains of the wall time (compilation between nodes, shutdown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

# dbt's result event of each node kind timed on its own, and the kind's label in the breakdown.
NODE_RESULTS = {"LogModelResult": "model", "LogSeedResult": "seed", "LogSnapshotResult": "snapshot"}


def events(log_file: Path) -> list[dict]:
    """The JSON events of a dbt file log (lines that are not JSON are skipped)."""
    found = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["info"]["ts"].replace("Z", "+00:00")).timestamp()


def _node_name(event: dict) -> str:
    """The node's name, with its version if any (``dim_merchants.v2``): versions of one model
    share a ``node_name``."""
    info = event.get("data", {}).get("node_info", {})
    unique_id = info.get("unique_id")
    if unique_id:
        return ".".join(unique_id.split(".")[2:])  # drops "<resource type>.<package>."
    return info.get("node_name", "?")


def breakdown(log_events: Iterable[dict], started_at: float, wall_s: float) -> dict[str, float]:
    """Seconds per phase (see the module docstring); the values add up to ``wall_s``."""
    log = list(log_events)
    if not log:
        return {"other": wall_s}
    named = [(event["info"]["name"], event) for event in log]
    first = _ts(log[0])
    parts: dict[str, float] = {"python start": max(first - started_at, 0.0)}
    found = next((e for n, e in named if n == "FoundStats"), None)
    concurrency = next((e for n, e in named if n == "ConcurrencyLine"), None)
    if found is not None:
        parts["parse"] = _ts(found) - first
    if concurrency is not None:
        work_starts = [_ts(e) for n, e in named if n in ("LogHookStartLine", "LogStartLine")]
        window_end = min(work_starts) if work_starts else _ts(log[-1])
        window_start = _ts(concurrency)
        queries = [
            float(e["data"].get("elapsed", 0))
            for n, e in named
            if n == "SQLQueryStatus" and window_start <= _ts(e) <= window_end
        ]
        # dbt-spark's session cursor builds the SparkSession in its first execute().
        parts["spark start"] = queries[0] if queries else 0.0
        parts["metadata queries"] = sum(queries[1:])
    parts["hooks"] = sum(
        float(e["data"].get("execution_time", 0)) for n, e in named if n == "LogHookEndLine"
    )
    tests = {"test": 0.0, "unit_test": 0.0}
    for name, event in named:
        data = event.get("data", {})
        seconds = float(data.get("execution_time", 0))
        if name in NODE_RESULTS:
            parts[f"{NODE_RESULTS[name]} {_node_name(event)}"] = seconds
        elif name == "LogTestResult":
            kind = data.get("node_info", {}).get("resource_type", "test")
            tests["unit_test" if kind == "unit_test" else "test"] += seconds
    for kind, label in (("test", "data tests"), ("unit_test", "unit tests")):
        if tests[kind]:
            parts[label] = tests[kind]
    parts["other"] = max(wall_s - sum(parts.values()), 0.0)
    return parts
