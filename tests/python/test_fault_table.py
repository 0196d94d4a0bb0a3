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
# A suite whose tests are rows by name (fault_table.AUTO_SUITES); an id with "@" stays whole,
# and a group other than the file's (e.g. a shared project's) is stripped all the same.
HOSTILE = """
import pytest


@pytest.mark.parametrize("value", ["a@b"])
def test_value_is_rejected(value):
    assert value


@pytest.mark.xdist_group("shared_project")
def test_shared_build():
    pass
"""


@pytest.mark.parametrize(
    "workers",
    [[], ["-p", "tests.python.conftest", "-p", "xdist", "-n", "2", "--dist", "loadgroup"]],
    ids=["in-process", "xdist"],
)
def test_rows_recorded_by_tests_reach_the_table(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    table = pytester.path / "faults.md"
    monkeypatch.setenv("FAULT_TABLE", str(table))
    pytester.makepyfile(test_suite=SUITE, test_hostile_input=HOSTILE)
    result = pytester.runpytest_subprocess("-p", "tests.python.fault_table", *workers)
    result.assert_outcomes(passed=4)
    rows = set(table.read_text().splitlines()[2:])
    assert rows == {
        "| fault a | checked a | pass |",
        "| fault b | checked b | pass |",
        "| fault b2 | checked b2 | partly |",
        "| hostile input | value is rejected[a@b] | passed |",
        "| hostile input | shared build | passed |",
    }
