"""`make bench`'s warm-server arm: `dbt build` on the `cluster` target against the cluster
package's local mode (``CLUSTER_WORKERS=0``: the Thrift + Connect application alone, one JVM).

A `dbt` process on the embedded target starts a JVM that meets every query shape cold; a server
keeps its JVM (compiled code, loaded classes, the metastore connection) from one dbt command to
the next, as a Thrift Server on a real cluster does. The server starts once per size, in
``<size folder>/server`` (its own metastore and warehouse, on free loopback ports), and is warmed
by ``warmup`` untimed builds; the timed builds then take their turns with the other arms. The
arm's CPU time and peak memory include the server's: its CPU during the build (the JVM's counters
before and after) and its resident memory at the end of the build, beside dbt's process tree.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from spark_analytics.cluster.config import LOOPBACK, Settings
from spark_analytics.cluster.processes import group_members
from spark_analytics.cluster.security import CLIENT_TOKEN_ENV, read_token
from spark_analytics.cluster.state import read_state

ARM = "dbt build (warm local server)"
DBT_ARGS = ("build", "--target", "cluster")


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free right now (the OS's choice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass(frozen=True)
class LocalServer:
    """A running local-mode server and the environment a dbt command needs to use it."""

    state_dir: Path
    env: dict[str, str]

    def _processes(self) -> list[psutil.Process]:
        groups = [c.pid for c in read_state(Settings(state_dir=self.state_dir))]
        found = []
        for pid in group_members(groups):
            with contextlib.suppress(psutil.NoSuchProcess):
                found.append(psutil.Process(pid))
        return found

    def cpu_seconds(self) -> float:
        """CPU the server's processes have used since they started."""
        total = 0.0
        for process in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for process in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total


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


@contextlib.contextmanager
def local_server(state_dir: Path, env: dict[str, str], cwd: Path) -> Iterator[LocalServer]:
    """Starts a local-mode server in ``state_dir`` for the duration (``env``: the size's)."""
    thrift, connect, ui = free_ports(3)
    server_env = {
        **env,
        "CLUSTER_STATE_DIR": str(state_dir),
        "CLUSTER_WORKERS": "0",
        "SPARK_THRIFT_PORT": str(thrift),
        "SPARK_CONNECT_PORT": str(connect),
        "CLUSTER_APP_UI_PORT": str(ui),
        "SPARK_CONNECT_URL": f"sc://{LOOPBACK}:{connect}",
    }
    _cluster("up", server_env, cwd)
    try:
        token = read_token(Settings(state_dir=state_dir))
        dbt_env = {
            **server_env,
            CLIENT_TOKEN_ENV: token,
            "DBT_TARGET_PATH": str(state_dir / "target"),
            "DBT_LOG_PATH": str(state_dir / "logs" / "dbt"),
        }
        yield LocalServer(state_dir, dbt_env)
    finally:
        _cluster("down", server_env, cwd)
