"""One measured run of a command: wall time, CPU time and peak memory of its whole process tree.

A dbt or PySpark run is a Python process that starts a JVM; both count. The tree is sampled
every ``interval`` seconds with psutil: CPU time is the sum over every process seen of its last
sample (a process that exits between two samples loses at most one interval), peak memory the
largest sum of resident set sizes seen at once.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def measure(
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    interval: float = 0.2,
) -> Measurement:
    """Runs ``command`` to completion and measures it (its output is captured)."""
    cpu_by_pid: dict[tuple[int, float], float] = {}
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    root = psutil.Process(process.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            rss = 0
            for proc in _tree(root):
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        # (pid, start time): a reused pid is another process.
                        cpu_by_pid[(proc.pid, proc.create_time())] = times.user + times.system
                        rss += proc.memory_info().rss
                except psutil.Error:
                    continue
            peak = max(peak, rss)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return Measurement(
        wall_s=wall,
        cpu_s=sum(cpu_by_pid.values()),
        peak_rss_bytes=peak,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m spark_analytics.bench.measure -- COMMAND...`: runs it, then prints its output
    and one line with the wall time, CPU time and peak memory of its process tree."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m spark_analytics.bench.measure")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling period, seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to measure")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    result = measure(command, interval=args.interval)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print(
        f"measured: rc={result.returncode} wall={result.wall_s:.1f}s cpu={result.cpu_s:.1f}s "
        f"peak={result.peak_rss_bytes / 2**30:.2f}GiB"
    )
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
