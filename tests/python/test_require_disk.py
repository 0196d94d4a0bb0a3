"""scripts/require_disk.sh: set-up and the suites stop before they start when the disk is short.

Without it a full disk showed up minutes in, as pip's "No space left on device" or as whichever
test happened to write. The tests give the scripts a ``df`` that reports a chosen free space.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.python.dbt_project import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
GIB = 1024 * 1024  # KiB, df's unit here


@pytest.fixture(autouse=True)
def _checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKIP_DISK_CHECK", raising=False)  # make test's own way round its check


def _fake_df_path(tmp_path: Path, available: str) -> str:
    """A PATH whose ``df`` reports ``available`` KiB free (POSIX ``df -Pk`` output)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "df").write_text(
        "#!/bin/sh\n"
        "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
        f"echo 'my disk 10485760 9961472 {available} 95% /mnt/my disk'\n"
    )
    (fake_bin / "df").chmod(0o755)
    return f"{fake_bin}{os.pathsep}{os.environ['PATH']}"


def _require(
    need: str, folder: Path, path: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPTS / "require_disk.sh"), need, "make test", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **({"PATH": path} if path else {}), **env},
    )


@pytest.mark.parametrize(
    ("need", "available", "free_shown"),
    [("1", str(GIB // 2), "0.5"), ("1", str(GIB - 1), "0.9"), ("0.5", str(GIB // 2 - 1), "0.4")],
)
def test_short_disk_stops_with_what_is_needed_and_what_is_free(
    tmp_path: Path, need: str, available: str, free_shown: str
) -> None:
    short = _require(need, tmp_path, _fake_df_path(tmp_path, available))
    assert short.returncode == 1
    assert short.stderr == (
        f"make test: needs {need} GiB free in {tmp_path}, which has {free_shown} GiB free. "
        "Free some space there, or set SKIP_DISK_CHECK=1 to go on without this check.\n"
    )


@pytest.mark.parametrize(("need", "available"), [("1", str(GIB)), ("0.5", str(GIB // 2))])
def test_enough_disk_goes_on_silently(tmp_path: Path, need: str, available: str) -> None:
    enough = _require(need, tmp_path, _fake_df_path(tmp_path, available))
    assert (enough.returncode, enough.stdout, enough.stderr) == (0, "", "")


def test_the_real_disk_and_the_ways_round_the_check(tmp_path: Path) -> None:
    free_gib = shutil.disk_usage(tmp_path).free / 2**30
    assert _require("0", tmp_path).returncode == 0
    too_much = _require(str(int(free_gib) + 1000), tmp_path)
    assert too_much.returncode == 1
    shown = float(re.search(r"which has ([\d.]+) GiB free", too_much.stderr)[1])
    assert abs(shown - free_gib) < 0.5  # the disk may change between the two readings
    assert _require(str(int(free_gib) + 1000), tmp_path, SKIP_DISK_CHECK="1").returncode == 0
    unreadable = _require("1", tmp_path, _fake_df_path(tmp_path, "-"))
    assert unreadable.returncode == 0
    assert "cannot read the free space" in unreadable.stderr
    missing = _require("1", tmp_path / "missing")
    assert (missing.returncode, missing.stderr) == (
        1,
        f"make test: {tmp_path / 'missing'} does not exist.\n",
    )


def _setup_copy(tmp_path: Path, available: str) -> subprocess.CompletedProcess:
    """scripts/setup.sh run in a copy of the scripts with ``available`` KiB free."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True, exist_ok=True)
    for script in ("setup.sh", "require_disk.sh"):
        shutil.copy2(SCRIPTS / script, project / "scripts" / script)
    return subprocess.run(
        ["bash", str(project / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
        # PYTHON=false: past the check, creating the virtualenv fails at once.
        env={**os.environ, "PATH": _fake_df_path(tmp_path, available), "PYTHON": "false"},
    )


def test_setup_on_a_short_disk_stops_before_creating_anything(tmp_path: Path) -> None:
    result = _setup_copy(tmp_path, str(GIB))
    project = tmp_path / "project"
    assert result.returncode == 1
    assert re.match(rf"setup: needs [\d.]+ GiB free in {re.escape(str(project))}, ", result.stderr)
    assert sorted(path.name for path in project.iterdir()) == ["scripts"]


def test_setup_of_an_installed_project_does_not_check(tmp_path: Path) -> None:
    (tmp_path / "project" / ".venv").mkdir(parents=True)
    (tmp_path / "project" / ".venv" / ".installed").touch()
    result = _setup_copy(tmp_path, str(GIB))
    assert "needs" not in result.stderr


def test_make_test_checks_the_suites_temporary_folder_before_pytest() -> None:
    planned = subprocess.run(
        ["make", "-n", "test"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    check = next(i for i, line in enumerate(planned) if "scripts/require_disk.sh" in line)
    suites = next(i for i, line in enumerate(planned) if " pytest " in line)
    assert check < suites
    # The folder pytest's temporary folders go to: Python's, as pytest finds it.
    assert "tempfile.gettempdir()" in planned[check]
