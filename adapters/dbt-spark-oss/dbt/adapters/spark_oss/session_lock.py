"""One dbt process at a time per embedded (Derby) metastore.

Derby allows a single JVM per database; a second dbt process on the same state directory fails
deep inside Hive with a long stack trace. Before starting the embedded Spark we take an exclusive,
non-blocking ``fcntl.flock`` on ``<state dir>/.dbt-session.lock`` (the directory holding
``metastore_db``) and keep it until the process exits (the OS releases it even on a crash).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

LOCK_FILE_NAME = ".dbt-session.lock"
_CONNECTION_URL_KEYS = (
    "spark.hadoop.javax.jdo.option.ConnectionURL",
    "javax.jdo.option.ConnectionURL",
)

_held: dict[str, int] = {}
_guard = threading.Lock()


class SessionLockedError(RuntimeError):
    """Another process holds the metastore lock."""


def _derby_system_home(params: Mapping[str, str]) -> str | None:
    match = re.search(
        r"-Dderby\.system\.home=(\S+)", params.get("spark.driver.extraJavaOptions", "")
    )
    return match.group(1) if match else None


def session_state_dir(params: Mapping[str, str], cwd: str | None = None) -> Path | None:
    """The directory that holds the embedded Derby metastore, or None if it is not Derby.

    - ``jdbc:derby:;databaseName=<dir>/metastore_db`` -> ``<dir>`` (a relative name is resolved
      against ``-Dderby.system.home`` like Derby does, else the working directory);
    - no ConnectionURL: Hive's default, ``metastore_db`` in the working directory;
    - another JDBC URL (a metastore server database): None, no lock needed.
    """
    base = Path(cwd or os.getcwd())
    url = next((params[k] for k in _CONNECTION_URL_KEYS if params.get(k)), None)
    if url is None:
        return base.resolve()
    if not url.startswith("jdbc:derby:"):
        return None
    match = re.search(r"databaseName=([^;]+)", url) or re.match(r"jdbc:derby:([^;]+)", url)
    if not match or not match.group(1):
        return base.resolve()
    db_path = Path(match.group(1))
    if not db_path.is_absolute():
        home = _derby_system_home(params)
        db_path = (Path(home) if home else base) / db_path
        if not db_path.is_absolute():
            db_path = base / db_path
    return db_path.parent.resolve()


def lock_path(params: Mapping[str, str], cwd: str | None = None) -> Path | None:
    state_dir = session_state_dir(params, cwd)
    return None if state_dir is None else state_dir / LOCK_FILE_NAME


def _holder_description(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return text or "unknown pid"


def acquire_lock_file(path: Path) -> Path:
    """Take (or keep, if this process already holds it) the exclusive lock on ``path``."""
    key = str(path)
    with _guard:
        if key in _held:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SessionLockedError(
                f"The embedded Spark metastore is in use by another process: lock file {path} is "
                f"held by {_holder_description(path)}. Wait for that dbt/Spark process to finish "
                "(or stop it), or give this run its own SPARK_STATE_DIR."
            ) from None
        os.ftruncate(fd, 0)
        cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))
        os.write(fd, f"pid {os.getpid()} ({cmd})\n".encode())
        _held[key] = fd  # kept open for the life of the process
        return path


def acquire_session_lock(params: Mapping[str, str], cwd: str | None = None) -> Path | None:
    """Lock the state directory of the embedded metastore; None when there is nothing to lock."""
    path = lock_path(params, cwd)
    return None if path is None else acquire_lock_file(path)


def release_all() -> None:
    """Release the locks this process holds (tests; normally the OS does it at exit)."""
    with _guard:
        for fd in _held.values():
            os.close(fd)
        _held.clear()
