"""`make bench`'s warm-server arms: `dbt build`, then `dbt test`, on the `cluster` target against
the cluster package's local mode (``CLUSTER_WORKERS=0``: the Thrift + Connect application alone,
one JVM).

A `dbt` process on the embedded target starts a JVM that meets every query shape cold; a server
keeps its JVM (compiled code, loaded classes, the metastore connection) from one dbt command to
the next, as a Thrift Server on a real cluster does. The server starts once per size, in
``<size folder>/server`` (its own metastore and warehouse, on free loopback ports), and is warmed
by ``warmup`` untimed builds; the timed builds then take their turns with the other arms, each
followed by its `dbt test` (whose queries the build just ran: a warm JVM, as a long-lived server
keeps it). Both arms' CPU time and peak memory include the server's (``measure(also=...)``): its
CPU while the command runs and its memory in every sample, beside dbt's process tree. Between
its commands the server idles, holding its memory, while the other arms run.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from spark_analytics.cluster.config import LOOPBACK, Settings
from spark_analytics.cluster.processes import free_port
from spark_analytics.cluster.security import CLIENT_TOKEN_ENV, read_token
from spark_analytics.cluster.state import read_state

ARM = "dbt build (warm local server)"
DBT_ARGS = ("build", "--target", "cluster")
TEST_ARM = "dbt test (warm local server)"  # right after each of its builds
DBT_TEST_ARGS = ("test", "--target", "cluster")
ON_SERVER = (ARM, TEST_ARM)


@dataclass(frozen=True)
class LocalServer:
    """A running local-mode server and the environment a dbt command needs to use it."""

    env: dict[str, str]
    leaders: tuple[int, ...]  # the processes `up` started (state file), read once

    def members(self) -> list[int]:
        """The pids of the server's processes and their descendants, asked at every sample of
        ``measure(also=...)``: PySpark's Python daemon, a child of the JVM, starts when first
        needed and leaves the server's process group."""
        pids = set()
        for pid in self.leaders:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                pids |= {pid, *(child.pid for child in process.children(recursive=True))}
        return sorted(pids)


def server_env(env: dict[str, str], state_dir: Path) -> dict[str, str]:
    """``env`` (the size's) for a local-mode server in ``state_dir`` on free loopback ports and
    for dbt's `cluster` target pointed at it. The user's own CLUSTER_ and SPARK_THRIFT_ settings
    (another host, sizes, auth) are left out: the server runs with the embedded session's
    settings and dbt with the embedded target's threads."""
    thrift = free_port()
    connect = free_port({thrift})
    ui = free_port({thrift, connect})
    kept = {
        name: value
        for name, value in env.items()
        if not name.startswith(("CLUSTER_", "SPARK_THRIFT_", "SPARK_CONNECT_"))
    }
    threads = {"SPARK_THRIFT_THREADS": env["DBT_THREADS"]} if "DBT_THREADS" in env else {}
    return {
        **kept,
        **threads,
        "CLUSTER_STATE_DIR": str(state_dir),
        "CLUSTER_WORKERS": "0",
        "SPARK_THRIFT_HOST": LOOPBACK,
        "SPARK_THRIFT_PORT": str(thrift),
        "SPARK_THRIFT_AUTH": "NONE",
        "SPARK_CONNECT_PORT": str(connect),
        "SPARK_CONNECT_URL": f"sc://{LOOPBACK}:{connect}",
        "CLUSTER_APP_UI_PORT": str(ui),
        "DBT_TARGET_PATH": str(state_dir / "target"),
        "DBT_LOG_PATH": str(state_dir / "logs" / "dbt"),
    }


def _cluster(command: str, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spark_analytics.cluster", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"cluster {command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def stop_leftover(state_dir: Path, env: dict[str, str], cwd: Path) -> None:
    """Stops a server an interrupted run left in ``state_dir`` (nothing if there is none)."""
    _cluster("down", {**env, "CLUSTER_STATE_DIR": str(state_dir)}, cwd)


@contextlib.contextmanager
def local_server(state_dir: Path, env: dict[str, str], cwd: Path) -> Iterator[LocalServer]:
    """A local-mode server in ``state_dir`` for the duration (``env``: the size's). A server
    left there by an interrupted run is stopped first: it listens on other ports."""
    stop_leftover(state_dir, env, cwd)
    started_env = server_env(env, state_dir)
    try:
        _cluster("up", started_env, cwd)
        settings = Settings(state_dir=state_dir)
        leaders = tuple(component.pid for component in read_state(settings))
        yield LocalServer({**started_env, CLIENT_TOKEN_ENV: read_token(settings)}, leaders)
    except BaseException:
        try:
            _cluster("down", started_env, cwd)
        except SystemExit as stop:  # the error already on its way matters more
            print(stop, file=sys.stderr)
        raise
    _cluster("down", started_env, cwd)
