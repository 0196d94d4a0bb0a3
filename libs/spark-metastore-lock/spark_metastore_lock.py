"""One process at a time per embedded (Derby) Hive metastore, for its whole JVM's lifetime.

Derby allows a single JVM per database; a second dbt or Spark process on the same state directory
fails deep inside Hive with a long stack trace. Before starting the embedded Spark, the dbt adapter
(dbt-spark-oss) and the project's own Spark jobs take an exclusive, non-blocking ``fcntl.flock`` on
``<state dir>/.dbt-session.lock`` (the directory holding ``metastore_db``) and keep it until the
process exits (the OS releases it even on ``kill -9``).

The flock belongs to the Python process, but Derby's lock belongs to the JVM that pyspark starts as
a child, and a killed Python's JVM lives on for a moment. So the holder also records its JVM's pid
in the lock file (``record_jvm``); whoever takes the lock next waits (``JVM_WAIT_SECONDS``) for a
recorded JVM that is still alive, and only then starts its own: a rerun right after a ``kill -9``
either waits or gets this module's message, never Derby's stack trace.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

LOCK_FILE_NAME = ".dbt-session.lock"
# How long a new holder waits for the JVM of a killed previous holder to exit.
JVM_WAIT_SECONDS = float(os.environ.get("SPARK_METASTORE_JVM_WAIT", "60"))
_CONNECTION_URL_KEYS = (
    "spark.hadoop.javax.jdo.option.ConnectionURL",
    "javax.jdo.option.ConnectionURL",
)

_held: dict[str, int] = {}
_guard = threading.Lock()


class SessionLockedError(RuntimeError):
    """Another process holds the metastore lock."""


def _derby_system_home(params: Mapping[str, str]) -> str | None:
    options = params.get("spark.driver.extraJavaOptions", "")
    # Quoted (a state directory with spaces: `-Dderby.system.home="/a b"`) or a bare word.
    match = re.search(r'-Dderby\.system\.home=(?:"((?:[^"\\]|\\.)*)"|(\S+))', options)
    if not match:
        return None
    if match.group(1) is not None:
        return re.sub(r"\\(.)", r"\1", match.group(1))
    return match.group(2)


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
    return "; ".join(text.splitlines()) or "unknown pid"


def acquire_lock_file(path: Path, jvm_wait: float | None = None) -> Path:
    """Take (or keep, if this process already holds it) the exclusive lock on ``path``.

    Raises SessionLockedError naming the holder when another live process holds it, or when the
    JVM of a previous holder is still running after ``jvm_wait`` seconds.
    """
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
        try:
            _wait_for_previous_jvm(path, JVM_WAIT_SECONDS if jvm_wait is None else jvm_wait)
        except SessionLockedError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))
        os.pwrite(fd, f"pid {os.getpid()} ({cmd})\n".encode(), 0)
        _held[key] = fd  # kept open for the life of the process
        return path


def record_jvm(path: Path, jvm_pid: int) -> None:
    """Note in the held lock file the pid of this process's JVM (see the module docstring)."""
    with _guard:
        fd = _held.get(str(path))
        if fd is None:
            raise RuntimeError(f"record_jvm: this process does not hold {path}")
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        line = text.splitlines()[0] if text else f"pid {os.getpid()}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{line}\njvm {jvm_pid}\n".encode(), 0)


def record_session_jvm(path: Path | None, spark: object) -> None:
    """``record_jvm`` with the pid of the JVM pyspark started for ``spark`` (if it started one)."""
    context = getattr(spark, "sparkContext", None) if path is not None else None
    gateway = getattr(type(context), "_gateway", None) if context is not None else None
    proc = getattr(gateway, "proc", None)
    if path is not None and proc is not None and str(path) in _held:
        record_jvm(path, proc.pid)


def _recorded_jvm(path: Path) -> int | None:
    try:
        match = re.search(r"^jvm (\d+)$", path.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _is_java(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (macOS): trust the pid if it exists
        except OSError:
            return False
        return True
    return b"java" in cmdline.split(b"\0", 1)[0]


def _wait_for_previous_jvm(path: Path, timeout: float) -> None:
    jvm = _recorded_jvm(path)
    if jvm is None or jvm == os.getpid():
        return
    deadline = time.monotonic() + timeout
    while _is_java(jvm):
        if time.monotonic() >= deadline:
            raise SessionLockedError(
                f"The embedded Spark metastore is still held by the JVM (pid {jvm}) of a process "
                f"that has exited; it did not stop within {timeout:.0f} s (lock file {path}). "
                f"Stop it (kill {jvm}) or give this run its own SPARK_STATE_DIR."
            )
        time.sleep(0.2)


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
