"""What a killed dbt leaves behind for the metastore lock: its JVM, still running, named in the
lock file (libs/spark-metastore-lock). Shared by the lock's suite and the adapter's."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def fake_jvm(seconds: float) -> subprocess.Popen[bytes]:
    """A process whose argv[0] is `java`, like the JVM pyspark starts (returned once it is)."""
    process = subprocess.Popen(["bash", "-c", f"exec -a java sleep {seconds}"])
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    # Until bash has exec'd, argv[0] is still `bash`.
    while not cmdline.read_bytes().startswith(b"java\0"):
        assert time.monotonic() < deadline, "the fake JVM never started"
        time.sleep(0.01)
    return process


def orphaned_lock(path: Path, jvm_pid: int) -> None:
    """The lock file as a killed holder leaves it: flock released, its JVM's pid recorded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"pid 999999 (dbt build)\njvm {jvm_pid}\n")
