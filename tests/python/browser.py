"""Headless Chromium for the browser tests (docs site, report): DOM dumps and screenshots.

scripts/ensure_chromium.sh installs it (Debian's package, root); without it the browser tests
skip, except under CI where they fail. Screenshots are kept under the git-ignored
``reports/screenshots/`` (``SCREENSHOT_DIR`` to change).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.python.dbt_project import REPO_ROOT

SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", REPO_ROOT / "reports" / "screenshots"))


def chromium(*args: str, budget_ms: int = 20_000) -> str:
    """Runs headless Chromium with ``args``; returns its stdout (the DOM with --dump-dom)."""
    browser = shutil.which("chromium")
    if browser is None:
        message = "chromium is not installed: scripts/ensure_chromium.sh installs it (root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
    return result.stdout


def screenshot(url: str, name: str, size: str = "1400,900") -> Path:
    """Saves a screenshot of ``url`` as ``SCREENSHOT_DIR/name`` and returns its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / name
    chromium(f"--screenshot={path}", f"--window-size={size}", url)
    assert path.exists() and path.stat().st_size > 0, f"no screenshot of {url}"
    return path
