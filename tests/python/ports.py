"""Ports for the servers the suites start (Thrift, Spark Connect, the cluster, dbt docs).

Picked below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
default): a port the kernel handed out there (bind to port 0) can be taken by any process's
outgoing connection before our server binds it, seconds later (seen in CI: the cluster's Thrift
port, while the other worker ran). Picked at random (the system's randomness: a test that seeds
`random` cannot make two workers pick alike), so that two workers rarely try the same.
"""

from __future__ import annotations

import random
from collections.abc import Collection

from spark_analytics.cluster.processes import port_is_free

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
    raise RuntimeError(f"no {span} free port(s) in a row in {LISTEN_PORTS}")
