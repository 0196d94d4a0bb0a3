"""The metastore lock covers the JVM's lifetime (libs/spark-metastore-lock).

A killed dbt's JVM outlives it for a moment and still holds Derby's own lock: the next process must
wait for that JVM or get our message, never Derby's stack trace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spark_metastore_lock import SessionLockedError, acquire_lock_file, release_all

from tests.python.dbt_project import IN_ENV, REPO_ROOT
from tests.python.fault_table import RecordFault
from tests.python.stale_jvm import fake_jvm, orphaned_lock


def test_waits_for_the_jvm_of_a_killed_holder(tmp_path: Path) -> None:
    path = tmp_path / ".dbt-session.lock"
    jvm = fake_jvm(1.5)
    orphaned_lock(path, jvm.pid)
    started = time.monotonic()
    try:
        assert acquire_lock_file(path, jvm_wait=30) == path
        waited = time.monotonic() - started
        assert waited >= 1.0, waited  # it waited for the JVM instead of starting a second one
        assert f"pid {os.getpid()}" in path.read_text()
    finally:
        release_all()
        jvm.wait()


def test_a_jvm_that_does_not_exit_gets_our_message(
    tmp_path: Path, record_fault: RecordFault
) -> None:
    path = tmp_path / ".dbt-session.lock"
    jvm = fake_jvm(60)
    orphaned_lock(path, jvm.pid)
    try:
        with pytest.raises(SessionLockedError) as err:
            acquire_lock_file(path, jvm_wait=0.5)
        message = str(err.value)
        assert f"pid {jvm.pid}" in message and str(path) in message and "kill" in message
    finally:
        jvm.kill()
        jvm.wait()
    assert acquire_lock_file(path, jvm_wait=5) == path  # gone: free again
    release_all()
    record_fault(
        "JVM of a killed holder still running",
        "the next process waits for it; past the wait, our message naming the pid (no Derby trace)",
    )


HOLD_SESSION = """
import time
from spark_analytics.session import build_session
spark = build_session("lock-holder")
spark.sql("create table if not exists lock_probe using parquet as select 1 as x")
print("ready", flush=True)
time.sleep(600)
"""

SECOND_SESSION = """
from spark_analytics.session import build_session
spark = build_session("after-kill")
print("rows", spark.sql("select count(*) from lock_probe").first()[0], flush=True)
"""


def test_rerun_right_after_kill_9_of_a_spark_process(
    tmp_path: Path, record_fault: RecordFault
) -> None:
    env = {**os.environ, "SPARK_STATE_DIR": str(tmp_path / "spark"), "SPARK_DRIVER_MEMORY": "1g"}
    holder = subprocess.Popen(
        [str(IN_ENV), sys.executable, "-c", HOLD_SESSION],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    lock_text = (tmp_path / "spark" / ".dbt-session.lock").read_text()
    assert "jvm " in lock_text, lock_text
    holder.send_signal(signal.SIGKILL)  # the Python process only: its JVM lives on a moment
    holder.wait()
    second = subprocess.run(
        [str(IN_ENV), sys.executable, "-c", SECOND_SESSION],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "rows 1" in second.stdout
    record_fault(
        "kill -9 of a Spark process, immediate rerun on the same metastore",
        "the rerun waits for the old JVM, then opens the metastore and reads its table",
    )
