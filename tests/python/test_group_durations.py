"""`make test` hands its groups to the xdist workers longest first (group_durations.py): the
ordering itself, where the recorded figures come from, and the suites' real collection order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.python.dbt_project import REPO_ROOT
from tests.python.group_durations import (
    SHARED_PROJECT,
    durations_from_junit,
    longest_first,
    read_durations,
)

HERE = Path(__file__).resolve().parent

# Collects the suites as `make test` does and writes each test's xdist group, in order.
RECORDER = """
import json, os

def pytest_collection_finish(session):
    order = [[i.nodeid, i.get_closest_marker("xdist_group").args[0]] for i in session.items]
    with open(os.environ["COLLECTED_GROUPS"], "w") as out:
        json.dump(order, out)
"""


def test_whole_groups_longest_first_unknown_first_each_in_its_own_order() -> None:
    items = ["a1", "b1", "a2", "c1", "b2", "d1"]
    ordered = longest_first(items, lambda item: item[0], {"a": 10.0, "b": 30.0, "d": 10.0})
    assert ordered == ["c1", "b1", "b2", "a1", "a2", "d1"]


def test_durations_sum_each_groups_tests_from_junit(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.python.test_a" name="test_x@test_a.py" time="1.25"/>'
        '<testcase classname="tests.python.test_a" name="test_y[p@q]@test_a.py" time="2.5"/>'
        '<testcase classname="tests.python.test_b" name="test_z@clean_project" time="4"/>'
        '<testcase classname="tests.python.test_c" name="test_not_distributed" time="9"/>'
        '<testcase classname="tests.python.test_c" name="test_q[a@b]" time="9"/>'
        "</testsuite></testsuites>"
    )
    assert durations_from_junit(junit) == {"clean_project": 4.0, "test_a.py": 3.8}


def test_recorded_groups_are_the_suites_groups() -> None:
    recorded = read_durations()
    assert recorded, "tests/python/group_durations.json is missing"
    stale = [group for group in recorded if group != SHARED_PROJECT and not (HERE / group).exists()]
    assert stale == [], f"no such test file: {stale}; regenerate (tests/python/group_durations.py)"


def test_the_suites_are_collected_in_whole_groups_longest_first(tmp_path: Path) -> None:
    (tmp_path / "group_recorder.py").write_text(RECORDER)
    order_file = tmp_path / "order.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "COLLECTED_GROUPS": str(order_file),
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    command = ["--collect-only", "-q", "-p", "group_recorder", "-p", "no:cacheprovider"]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", *command, "tests/python"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    groups = [group for _, group in json.loads(order_file.read_text())]
    runs = [group for index, group in enumerate(groups) if index == 0 or groups[index - 1] != group]
    assert len(runs) == len(set(runs)), f"a group is split: {runs}"
    recorded = read_durations()
    times = [recorded.get(group, float("inf")) for group in runs]
    assert times == sorted(times, reverse=True), list(zip(runs, times, strict=True))
    assert runs[-1] in recorded
