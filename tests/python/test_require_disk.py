"""scripts/require_disk.sh: set-up and the suites stop before they start when the disk is short.

Without it a full disk showed up minutes in, as pip's "No space left on device" or as whichever
test happened to write. The tests give the scripts a ``df`` that reports a nearly full disk.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.python.dbt_project import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
# POSIX `df -Pk` output for a disk with 512 MiB free.
FAKE_DF = """#!/bin/sh
echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'
echo '/dev/fake 10485760 9961472 524288 95% /'
"""


def _fake_df_path(tmp_path: Path) -> str:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "df").write_text(FAKE_DF)
    (fake_bin / "df").chmod(0o755)
    return f"{fake_bin}{os.pathsep}{os.environ['PATH']}"


def _require(gib: int, folder: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path} if path else None
    return subprocess.run(
        [str(SCRIPTS / "require_disk.sh"), str(gib), "make test", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_short_disk_stops_with_what_is_needed_and_what_is_free(tmp_path: Path) -> None:
    short = _require(1, tmp_path, _fake_df_path(tmp_path))
    assert short.returncode == 1
    assert short.stderr == (
        f"make test: needs about 1 GiB free in {tmp_path}, which has 0.5 GiB free.\n"
    )
    # The real disk: enough for nothing needed, and too little for more than it has.
    free_gib = shutil.disk_usage(tmp_path).free / 2**30
    assert _require(0, tmp_path).returncode == 0
    too_much = _require(int(free_gib) + 1000, tmp_path)
    assert too_much.returncode == 1
    reported = float(re.search(r"which has ([\d.]+) GiB free", too_much.stderr)[1])
    assert abs(reported - free_gib) < 0.5  # the disk may change between the two readings


def test_setup_on_a_short_disk_stops_before_creating_anything(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for script in ("setup.sh", "require_disk.sh"):
        shutil.copy2(SCRIPTS / script, project / "scripts" / script)
    result = subprocess.run(
        ["bash", str(project / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        check=False,
        # PYTHON=false: were the check missing, creating the virtualenv fails at once.
        env={**os.environ, "PATH": _fake_df_path(tmp_path), "PYTHON": "false"},
    )
    assert result.returncode == 1
    assert re.fullmatch(
        rf"setup: needs about \d+ GiB free in {re.escape(str(project))}, "
        r"which has 0\.5 GiB free\.\n",
        result.stderr,
    )
    assert sorted(path.name for path in project.iterdir()) == ["scripts"]


def test_make_test_checks_the_suites_temporary_folder_before_pytest() -> None:
    planned = subprocess.run(
        ["make", "-n", "test"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    check = next(i for i, line in enumerate(planned) if "scripts/require_disk.sh" in line)
    suites = next(i for i, line in enumerate(planned) if " pytest " in line)
    assert check < suites
    assert re.search(r'require_disk\.sh \d+ "make test" "?\$\{TMPDIR:-/tmp\}', planned[check])
