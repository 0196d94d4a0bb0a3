"""A real Spark standalone cluster on this machine, from the pip pyspark distribution.

    python -m spark_analytics.cluster up | down | status | beeline [-e SQL] [beeline args...]

`up` starts a master, N workers and ONE application on that master: the Spark Thrift Server
(HiveServer2 protocol, what dbt's `cluster` target talks to) with Spark Connect loaded into the
same driver as a plugin, so SQL over Thrift and Python over Connect share one catalog (a Derby
metastore under the state folder) and one warehouse. Every listener binds 127.0.0.1. With
CLUSTER_WORKERS=0 (local mode) it starts that application alone, its tasks in its own JVM: the
embedded engine kept warm between dbt commands.

Everything is configured with environment variables (see `Settings.from_env`); the state
(pids, logs, metastore, warehouse) lives in CLUSTER_STATE_DIR, default `.state/cluster/`.
On a real multi-host cluster the warehouse must be shared storage (HDFS, S3, NFS) and the
metastore a shared service: see docs/cluster.md.

Modules: `config` (settings from env vars, shared constants), `commands` (command lines and
confs), `processes` (ports, process groups, listeners), `state` (the state file), `health`
(Thrift/Connect/worker checks), `hive_shim` (the Hive class Spark 4's Thrift Server lacks),
`archive` (the application JVM's class archive), `lifecycle` (up/down/status), `cli` (the
command line).
The public names are re-exported here.
"""

from spark_analytics.cluster.cli import beeline, main, strip_prompts
from spark_analytics.cluster.commands import (
    app_command,
    app_conf,
    beeline_command,
    hive_conf,
    hive_dirs,
    java_home,
    master_command,
    process_env,
    spark_class,
    worker_command,
)
from spark_analytics.cluster.config import (
    BEELINE_CLASS,
    CONNECT_PLUGIN,
    LOOPBACK,
    LOOPBACK_ADDRESSES,
    ROOT,
    SPARK_HOME,
    THRIFT_CLASS,
    ClusterError,
    Port,
    Settings,
)
from spark_analytics.cluster.health import alive_workers, connect_query, thrift_query
from spark_analytics.cluster.lifecycle import (
    down,
    owned_groups,
    spawn,
    status,
    stop_components,
    up,
    wait_for,
    write_conf,
)
from spark_analytics.cluster.processes import (
    Listener,
    busy_ports,
    check_ports_free,
    group_members,
    listeners_of,
    parse_ss,
    pid_alive,
    port_answers,
    port_is_free,
    tail,
)
from spark_analytics.cluster.state import Component, read_state, write_state

__all__ = [
    "BEELINE_CLASS",
    "CONNECT_PLUGIN",
    "LOOPBACK",
    "LOOPBACK_ADDRESSES",
    "ROOT",
    "SPARK_HOME",
    "THRIFT_CLASS",
    "ClusterError",
    "Component",
    "Listener",
    "Port",
    "Settings",
    "alive_workers",
    "app_command",
    "app_conf",
    "beeline",
    "beeline_command",
    "busy_ports",
    "check_ports_free",
    "connect_query",
    "down",
    "group_members",
    "hive_conf",
    "hive_dirs",
    "java_home",
    "listeners_of",
    "main",
    "master_command",
    "owned_groups",
    "parse_ss",
    "pid_alive",
    "port_answers",
    "port_is_free",
    "process_env",
    "read_state",
    "spark_class",
    "spawn",
    "status",
    "stop_components",
    "strip_prompts",
    "tail",
    "thrift_query",
    "up",
    "wait_for",
    "worker_command",
    "write_conf",
    "write_state",
]
