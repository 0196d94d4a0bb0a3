"""The Java runtimes the tests inspect: a runtime's version and the one on PATH."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


def release_version(home: str | Path) -> str:
    """``JAVA_VERSION`` from the runtime's ``release`` file (e.g. ``25.0.2``), "" if none."""
    release = Path(home) / "release"
    text = release.read_text() if release.exists() else ""
    match = re.search(r'^JAVA_VERSION="([0-9.]+)"', text, re.MULTILINE)
    return match[1] if match else ""


def major(home: str | Path) -> int:
    """The runtime's feature version (25 for 25.0.2), 0 if unknown."""
    return int(release_version(home).split(".")[0] or 0)


def path_java_home() -> Path | None:
    """The home of the ``java`` on PATH, if any."""
    java = shutil.which("java")
    return Path(os.path.realpath(java)).parent.parent if java else None
