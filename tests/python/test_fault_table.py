"""Every row of the fault table (fault_table.py) reaches it, in one process or from workers."""

from __future__ import annotations

import pytest

from tests.python.dbt_project import REPO_ROOT

pytest_plugins = ["pytester"]

SUITE = """
def test_a(record_fault):
    record_fault("fault a", "checked a")


def test_b(record_fault):
    record_fault("fault b", "checked b")
    record_fault("fault b2", "checked b2", result="partly")
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["in-process", "xdist"])
def test_rows_recorded_by_tests_reach_the_table(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    table = pytester.path / "faults.md"
    monkeypatch.setenv("FAULT_TABLE", str(table))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "tests.python.fault_table", *workers)
    result.assert_outcomes(passed=2)
    rows = set(table.read_text().splitlines()[2:])
    assert rows == {
        "| fault a | checked a | pass |",
        "| fault b | checked b | pass |",
        "| fault b2 | checked b2 | partly |",
    }
