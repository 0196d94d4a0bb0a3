"""Command line: `python -m spark_analytics.cluster up | down | status | beeline | hive-shim |
archive`."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from spark_analytics.cluster import archive
from spark_analytics.cluster.commands import beeline_command, process_env
from spark_analytics.cluster.config import ClusterError, Settings
from spark_analytics.cluster.hive_shim import SHIM_JAR_NAME, write_shim_jar
from spark_analytics.cluster.lifecycle import down, status, up, write_conf
from spark_analytics.cluster.security import beeline_password_file

_PROMPT = re.compile(r"^\d+: jdbc:hive2://\S*> ")


def strip_prompts(output: str) -> str:
    """BeeLine echoes its prompt before `-e` results when stdin is not a terminal."""
    return "\n".join(_PROMPT.sub("", line) for line in output.splitlines())


def beeline(settings: Settings, sql: str | None, args: Sequence[str], user: str | None) -> int:
    """Run BeeLine on the Thrift Server: interactive, or `-e SQL` printing only the result."""
    write_conf(settings)
    # LDAP/CUSTOM auth: the password goes through a 0600 file (-w), never the command line.
    with beeline_password_file() as password_args:
        args = [*password_args, *args]
        cmd = beeline_command(settings, list(args), user=user)
        if not Path(cmd[0]).exists():
            raise ClusterError(f"java not found at {cmd[0]}")
        if sql is None:
            return subprocess.call(cmd, env=process_env(settings))  # noqa: S603
        defaults = ["--silent=true", "--showHeader=true"]
        if not any(a.startswith("--outputformat") for a in args):
            defaults.append("--outputformat=table")
        cmd = beeline_command(settings, [*defaults, *args, "-e", sql], user=user)
        done = subprocess.run(  # noqa: S603
            cmd,
            env=process_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
    print(strip_prompts(done.stdout))
    return done.returncode


def main(argv: Sequence[str] | None = None) -> int:
    from spark_analytics import cluster as package  # its docstring is the help text

    parser = argparse.ArgumentParser(
        prog="python -m spark_analytics.cluster", description=package.__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up",
        help="start master, workers and the Thrift + Connect application "
        "(CLUSTER_WORKERS=0: the application alone, in local mode)",
    )
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("status", help="health of each component (exit 1 if unhealthy)")
    bee = sub.add_parser("beeline", help="Hive beeline JDBC client on the Thrift Server")
    bee.add_argument("-e", dest="sql", help="run this SQL and exit")
    bee.add_argument("-n", dest="user", help="user name (default $SPARK_THRIFT_USER or $USER)")
    shim = sub.add_parser(
        "hive-shim",
        help="write the Hive class jar a Spark 4 Thrift Server needs (see hive_shim) into DIR",
    )
    shim.add_argument("dir", type=Path, help="folder for the jar (e.g. your Spark's jars/)")
    archive_command = sub.add_parser(
        "archive",
        help="build the servers' class archive ($SPARK_SERVER_ARCHIVE) unless it is current "
        "(see spark_analytics.cluster.archive)",
    )
    archive_command.add_argument(archive.RECORD_WORKLOAD_FLAG, type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "beeline":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "hive-shim":
        try:
            print(write_shim_jar(args.dir / SHIM_JAR_NAME))
        except OSError as exc:
            print(f"cluster: error: cannot write the jar into {args.dir}: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "archive":
        if args.record_workload:
            archive.record_workload(args.record_workload)
        else:
            print(archive.build())
        return 0
    settings = Settings.from_env()
    try:
        if args.command == "up":
            # Killed while starting: stop what was started (up() cleans up on SystemExit).
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
            up(settings)
        elif args.command == "down":
            down(settings)
        elif args.command == "status":
            return 0 if status(settings) else 1
        elif args.command == "beeline":
            return beeline(settings, args.sql, rest, user=args.user)
    except ClusterError as exc:
        print(f"cluster: error: {exc}", file=sys.stderr)
        return 2
    return 0
