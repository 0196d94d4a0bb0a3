"""Collects what the fault suites checked and prints it as one table at the end of the run.

Two kinds of rows:
- `record_fault(fault, checked)` (a fixture, like pytest's `record_property`), called by a test of
  test_faults.py or test_metastore_lock.py after its assertions passed: "checked and held", in the
  test's own words (a failing test adds a `failed` row instead). The rows travel in the test's
  report, so they reach the table from pytest-xdist workers too;
- one row per test of the other fault suites (hostile input, bad files, properties, streaming,
  security, source registration): the suite, the test's name and pytest's outcome.
The table is printed at the end of pytest's output and written to `$FAULT_TABLE` when that is set
(`make faults` writes target/faults.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

_ROWS: list[tuple[str, str, str]] = []
# The key of a fault row in a test report's user_properties.
_PROPERTY = "fault_row"
RecordFault = Callable[..., None]
EXPLICIT_SUITES = {"test_faults.py", "test_metastore_lock.py"}
AUTO_SUITES = {
    "test_source_registration.py": "source registration",
    "test_hostile_input.py": "hostile input",
    "test_bad_files.py": "bad files",
    "test_properties.py": "property-based (hypothesis)",
    "test_streaming_hardening.py": "streaming",
    "test_security.py": "security",
}


@pytest.fixture
def record_fault(request: pytest.FixtureRequest) -> RecordFault:
    """`record_fault(fault, checked, result="pass")` adds a row to the fault table."""

    def record(fault: str, checked: str, result: str = "pass") -> None:
        request.node.user_properties.append((_PROPERTY, (fault, checked, result)))

    return record


def render() -> str:
    lines = ["| fault | what was checked | result |", "| --- | --- | --- |"]
    lines += [f"| {fault} | {checked} | {result} |" for fault, checked, result in _ROWS]
    return "\n".join(lines)


def _without_xdist_group(name: str) -> str:
    """The test id without the ``@<group>`` that pytest-xdist's ``--dist loadgroup`` appends.

    Whatever the group is: a test's own id holds "@" only inside its parameters ("[...]").
    """
    head, sep, tail = name.rpartition("@")
    return head if sep and "]" not in tail else name


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not report.failed:
        return
    if report.skipped:
        return
    if report.when == "call":
        _ROWS.extend(tuple(row) for key, row in report.user_properties if key == _PROPERTY)
    path, _, name = report.nodeid.partition("::")
    suite = path.rsplit("/", 1)[-1]
    name = _without_xdist_group(name)
    readable = name.removeprefix("test_").replace("_", " ")
    if suite in AUTO_SUITES:
        _ROWS.append((AUTO_SUITES[suite], readable, report.outcome))
    elif suite in EXPLICIT_SUITES and report.failed:
        _ROWS.append((readable, "see the failure above", "failed"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS or hasattr(terminalreporter.config, "workerinput"):  # an xdist worker
        return
    terminalreporter.write_sep("=", "fault table")
    terminalreporter.write_line(render())
    if os.environ.get("FAULT_TABLE"):
        path = Path(os.environ["FAULT_TABLE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render() + "\n")
