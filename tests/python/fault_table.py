"""Collects what the fault suites checked and prints it as one table at the end of the run.

`record_fault(fault, checked)` is called by a test after its assertions passed, so a row means
"checked and held"; a test that fails records nothing and shows up as a failure instead. The
table is printed at the end of pytest's output and written to `$FAULT_TABLE` when that is set
(`make faults` writes target/faults.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROWS: list[tuple[str, str, str]] = []


def record_fault(fault: str, checked: str, result: str = "pass") -> None:
    _ROWS.append((fault, checked, result))


def render() -> str:
    lines = ["| fault | what was checked | result |", "| --- | --- | --- |"]
    lines += [f"| {fault} | {checked} | {result} |" for fault, checked, result in _ROWS]
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    terminalreporter.write_sep("=", "fault table")
    terminalreporter.write_line(render())
    if os.environ.get("FAULT_TABLE"):
        path = Path(os.environ["FAULT_TABLE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render() + "\n")
