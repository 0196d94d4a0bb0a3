"""The order in which `make test` hands its groups to the pytest-xdist workers: longest first.

`make test` runs `-n 2 --dist loadgroup`: a worker is handed the next group (a file, or the files
that share the built project: conftest.py) as its current one nears its end. xdist's own order,
by number of tests (off with `--no-loadscope-reorder`, pyproject.toml), put files of
one or two long tests (a streaming cycle per process, the kill matrix, the snapshots) last, where
one of them ran alone while the other worker idled. ``group_durations.json`` holds each group's
summed test time from a run's JUnit XML; regenerate it with
``python -m tests.python.group_durations <junit.xml>`` after a `make test` with
``PYTEST_ARGS=--junitxml=<junit.xml>``. A group it does not name goes first, as it may be long.
Stale figures only change the order, never what runs.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

DURATIONS_FILE = Path(__file__).with_name("group_durations.json")
# The group of every file whose tests use the session's built project (conftest.py's fixture of
# this name), so that it is built once.
SHARED_PROJECT = "clean_project"

Item = TypeVar("Item")


def read_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """Seconds per group, as recorded (empty when the file is missing)."""
    return json.loads(path.read_text()) if path.exists() else {}


def longest_first(
    items: Sequence[Item], group_of: Callable[[Item], str], durations: dict[str, float]
) -> list[Item]:
    """``items`` with whole groups ordered by recorded time, unknown groups first; the order of
    the groups' own items, and of groups with equal time, is kept."""
    unknown = float("inf")
    return sorted(items, key=lambda item: -durations.get(group_of(item), unknown))


def durations_from_junit(path: Path) -> dict[str, float]:
    """Seconds per group from pytest's JUnit XML of an xdist run: a test's name ends in
    ``@<group>``."""
    seconds: dict[str, float] = {}
    for case in ET.parse(path).iter("testcase"):
        name = case.get("name", "")
        if name.rfind("@") > name.rfind("]"):  # xdist's rule: not an "@" inside parameters
            group = name.rsplit("@", 1)[1]
            seconds[group] = seconds.get(group, 0.0) + float(case.get("time", 0))
    return {group: round(total, 1) for group, total in sorted(seconds.items())}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.python.group_durations <junit.xml>", file=sys.stderr)
        return 2
    durations = durations_from_junit(Path(argv[0]))
    if not durations:
        print(f"{argv[0]} names no xdist group: was it written by `make test`?", file=sys.stderr)
        return 1
    DURATIONS_FILE.write_text(json.dumps(durations, indent=2) + "\n")
    print(f"{DURATIONS_FILE}: {len(durations)} groups, {sum(durations.values()):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
