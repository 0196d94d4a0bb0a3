"""Where a dbt invocation's time goes, read from its JSON file log (``--log-format-file json``).

dbt writes its file log at debug level by default, so the breakdown costs the run nothing extra:

- ``python start``: from the process start to dbt's first event (interpreter and imports);
- ``parse``: to the ``FoundStats`` event (project parse, partial parsing when possible);
- ``spark start``: the first query to finish after ``ConcurrencyLine`` (dbt-spark's session
  cursor starts the JVM and the Hive-enabled SparkSession inside its first ``execute``);
- ``metadata queries``: the other queries before the first hook or node (schema listings,
  the relation cache), from ``SQLQueryStatus``;
- ``hooks``: their run, and the statements their macros run while dbt renders them (the
  source registration); one entry per model, seed and snapshot; ``data tests`` and
  ``unit tests``;
- ``shutdown``: from dbt's last event to the end of the command: the interpreter's exit, then
  the embedded JVM's (its shutdown hooks stop Spark; it shares the command's output pipes, so a
  caller reading them, as ``bench.measure`` does, waits for it too);
- ``other``: what remains of the wall time (compilation between nodes, dbt's artifacts).

Each timed item is an interval (its end event's time minus its duration). With ``--threads``
above 1 intervals overlap, so each phase gets its **share of the wall time**: where n items run
at once, each is given 1/n of that stretch. With one thread a share is the item's own duration;
with more, the phases still add up to the wall time instead of counting overlapped time twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

# dbt's result event of each node kind timed on its own, and the kind's label in the breakdown.
NODE_RESULTS = {"LogModelResult": "model", "LogSeedResult": "seed", "LogSnapshotResult": "snapshot"}

Interval = tuple[str, float, float]  # (phase, start, end) in epoch seconds


def events(log_file: Path) -> list[dict]:
    """The JSON events of a dbt file log (lines that are not JSON are skipped)."""
    found = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def iso_seconds(text: str) -> float:
    """Epoch seconds of one of dbt's ISO timestamps (``...Z`` or with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _ts(event: dict) -> float:
    return iso_seconds(event["info"]["ts"])


def configured_threads(log_events: Iterable[dict]) -> int | None:
    """The thread count dbt ran with (its ``ConcurrencyLine``), or None without one."""
    for event in log_events:
        if event.get("info", {}).get("name") == "ConcurrencyLine":
            return int(event.get("data", {}).get("num_threads", 0)) or None
    return None


def _node_name(event: dict) -> str:
    """The node's name, with its version if any (``dim_merchants.v2``): versions of one model
    share a ``node_name``."""
    info = event.get("data", {}).get("node_info", {})
    unique_id = info.get("unique_id")
    if unique_id:
        return ".".join(unique_id.split(".")[2:])  # drops "<resource type>.<package>."
    return info.get("node_name", "?")


def _resource_type(event: dict) -> str | None:
    return event.get("data", {}).get("node_info", {}).get("resource_type")


def _ending_at(phase: str, event: dict, seconds_key: str) -> Interval:
    end = _ts(event)
    return phase, end - float(event.get("data", {}).get(seconds_key, 0)), end


def stretches(intervals: Iterable[Interval]) -> Iterator[tuple[float, list[str]]]:
    """The time from the first start to the last end, cut wherever an interval starts or ends:
    (seconds, the phases of the intervals running all along) per stretch, in order."""
    spans = [(start, end, phase) for phase, start, end in intervals if end > start]
    cuts = sorted({t for start, end, _ in spans for t in (start, end)})
    for left, right in zip(cuts, cuts[1:], strict=False):
        yield right - left, [phase for start, end, phase in spans if start <= left and right <= end]


def wall_shares(intervals: Iterable[Interval]) -> dict[str, float]:
    """Each phase's share of the wall time its intervals cover: a stretch where n intervals
    overlap gives each 1/n of it. The shares add up to the time covered by any interval."""
    shares: dict[str, float] = defaultdict(float)
    for seconds, running in stretches(intervals):
        for phase in running:
            shares[phase] += seconds / len(running)
    return dict(shares)


def _phase_intervals(named: list[tuple[str, dict]]) -> list[Interval]:
    """Every timed item of the log as an interval of its phase (see the module docstring)."""
    intervals: list[Interval] = []
    spark_start_event = None
    concurrency = next((e for n, e in named if n == "ConcurrencyLine"), None)
    if concurrency is not None:
        work_starts = [_ts(e) for n, e in named if n in ("LogHookStartLine", "LogStartLine")]
        window_end = min(work_starts) if work_starts else _ts(named[-1][1])
        window_start = _ts(concurrency)
        window = [
            e for n, e in named if n == "SQLQueryStatus" and window_start <= _ts(e) <= window_end
        ]
        if window:
            # dbt-spark's session cursor builds the SparkSession in its first execute(); a query
            # beside it (threads > 1) waits for that session, so only its time after counts.
            spark_start_event = min(window, key=_ts)
            intervals.append(_ending_at("spark start", spark_start_event, "elapsed"))
            spark_ready = _ts(spark_start_event)
            for event in window:
                if event is not spark_start_event and _resource_type(event) != "operation":
                    phase, start, end = _ending_at("metadata queries", event, "elapsed")
                    intervals.append((phase, max(start, spark_ready), end))
    for name, event in named:
        if event is spark_start_event:
            continue
        if name == "SQLQueryStatus" and _resource_type(event) == "operation":
            # A hook's macro runs its statements while dbt renders the hook, before its start
            # line; a hook whose SQL renders empty has no start or end line at all.
            intervals.append(_ending_at("hooks", event, "elapsed"))
        elif name == "LogHookEndLine":
            intervals.append(_ending_at("hooks", event, "execution_time"))
        elif name in NODE_RESULTS:
            phase = f"{NODE_RESULTS[name]} {_node_name(event)}"
            intervals.append(_ending_at(phase, event, "execution_time"))
        elif name == "LogTestResult":
            phase = "unit tests" if _resource_type(event) == "unit_test" else "data tests"
            intervals.append(_ending_at(phase, event, "execution_time"))
    return intervals


def breakdown(log_events: Iterable[dict], started_at: float, wall_s: float) -> dict[str, float]:
    """Seconds per phase (see the module docstring); the values add up to ``wall_s``."""
    log = list(log_events)
    if not log:
        return {"other": wall_s}
    named = [(event["info"]["name"], event) for event in log]
    first = _ts(log[0])
    parts: dict[str, float] = {"python start": max(first - started_at, 0.0)}
    found = next((e for n, e in named if n == "FoundStats"), None)
    if found is not None:
        parts["parse"] = _ts(found) - first
    if any(n == "ConcurrencyLine" for n, _ in named):
        parts |= {"spark start": 0.0, "metadata queries": 0.0}
    parts["hooks"] = 0.0
    parts |= wall_shares(_phase_intervals(named))
    parts["shutdown"] = max(started_at + wall_s - _ts(log[-1]), 0.0)
    parts["other"] = max(wall_s - sum(parts.values()), 0.0)
    return parts
