"""Ports, process groups and TCP listeners of this machine (what `up`/`down`/`status` check)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from spark_analytics.cluster.config import (
    LOOPBACK,
    LOOPBACK_ADDRESSES,
    ClusterError,
    Port,
    Settings,
)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the JVM's server sockets: a port whose old connections linger in TIME_WAIT is
        # free; one with a live listener (on 127.0.0.1, 0.0.0.0 or ::) is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


# Ports for the servers started on free ports (the benchmark's local server, the suites'
# servers), picked below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
# 32768-60999 by default): a port the kernel handed out there (bind to port 0) can be taken by
# any process's outgoing connection before our server binds it, seconds later (seen in CI: the
# cluster's Thrift port, while the other worker ran). Picked at random (the system's randomness:
# a test that seeds `random` cannot make two workers pick alike), so that two pickers rarely
# try the same.
LISTEN_PORTS = range(20000, 32000)
_PICK = random.SystemRandom()


def free_port(avoid: Collection[int] = (), span: int = 1) -> int:
    """A port that is free now, with the ``span - 1`` ports after it (a worker's UIs use
    base and base + 1), none of them in ``avoid`` (the ports picked before it)."""
    for _ in range(1000):
        port = _PICK.randrange(LISTEN_PORTS.start, LISTEN_PORTS.stop - span + 1)
        block = range(port, port + span)
        if not any(p in avoid for p in block) and all(port_is_free(p) for p in block):
            return port
    raise ClusterError(f"no {span} free port(s) in a row in {LISTEN_PORTS}")


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def busy_ports(ports: Iterable[Port], is_free: Callable[[int], bool] = port_is_free) -> list[Port]:
    return [p for p in ports if not is_free(p.port)]


def check_ports_free(settings: Settings) -> None:
    seen: dict[int, Port] = {}
    for port in settings.fixed_ports():
        if port.port in seen:
            raise ClusterError(
                f"port {port.port} is configured twice: {seen[port.port].component} "
                f"({seen[port.port].env_var}) and {port.component} ({port.env_var})"
            )
        seen[port.port] = port
    busy = busy_ports(settings.fixed_ports())
    if busy:
        lines = [
            f"  port {p.port} ({p.component}) is already in use on {LOOPBACK}: "
            f"set {p.env_var} to a free port{p.note}"
            for p in busy
        ]
        raise ClusterError("cannot start the cluster:\n" + "\n".join(lines))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])  # state, pgid


def group_members(pgids: Iterable[int]) -> list[int]:
    """Live (non-zombie) pids whose process group is one of `pgids`."""
    wanted = set(pgids)
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _proc_stat(int(entry.name))
        if info and info[1] in wanted and info[0] != "Z":
            members.append(int(entry.name))
    return sorted(members)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pid: int

    @property
    def loopback(self) -> bool:
        return self.address.strip("[]").split("%")[0] in LOOPBACK_ADDRESSES


def parse_ss(output: str) -> list[Listener]:
    """Parse `ss -Hltnp` lines into (address, port, pid) for every pid listed."""
    listeners = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        local = parts[3]
        address, _, port = local.rpartition(":")
        procs = " ".join(parts[5:])
        for chunk in procs.split("pid=")[1:]:
            pid = int("".join(ch for ch in chunk.split(",")[0] if ch.isdigit()))
            listeners.append(Listener(address, int(port), pid))
    return listeners


def listeners_of(pids: Iterable[int]) -> list[Listener]:
    """TCP listeners (from `ss -ltnp`) owned by the given processes."""
    wanted = set(pids)
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    return [item for item in parse_ss(out) if item.pid in wanted]
