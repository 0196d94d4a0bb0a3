"""One measured run of a command: wall time, CPU time and peak memory of its whole process tree.

A dbt or PySpark run is a Python process that starts a JVM; both count. The tree is sampled
every ``interval`` seconds with psutil: CPU time is the sum over every process seen of its last
sample (a process that exits between two samples loses at most one interval), peak memory the
largest sum of resident set sizes seen at once.

``cpu_by_thread`` splits the CPU time by thread name (Linux: ``/proc/<pid>/task/<tid>/comm``,
digits folded, so ``C2 CompilerThre`` or ``Executor task l`` group the JVM's compiler or task
threads): where a driver's CPU goes, e.g. how much of it is the JVM compiling Java
(BENCHMARKS.md, stop 26). ``--threads N`` prints the N largest groups.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
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
    cpu_by_thread: dict[str, float] = field(default_factory=dict)


def thread_group(name: str) -> str:
    """A thread's name with its numbers folded: ``GC Thread#3`` -> ``GC Thread#N``; the JIT's
    ``C1 ...`` and ``C2 ...`` keep theirs."""
    return name if name[:2] in ("C1", "C2") else re.sub(r"[0-9]+", "N", name)


def _thread_name(pid: int, tid: int) -> str:
    try:
        return Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    except OSError:
        return "?"


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
    # (pid, start time, thread id) -> (thread name, its last CPU time)
    cpu_by_tid: dict[tuple[int, float, int], tuple[str, float]] = {}
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
                        for thread in proc.threads():
                            key = (proc.pid, proc.create_time(), thread.id)
                            name = cpu_by_tid.get(key, (None, 0.0))[0]
                            name = name or _thread_name(proc.pid, thread.id)
                            cpu_by_tid[key] = (name, thread.user_time + thread.system_time)
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
    by_thread: Counter[str] = Counter()
    for name, cpu in cpu_by_tid.values():
        by_thread[thread_group(name)] += cpu
    return Measurement(
        wall_s=wall,
        cpu_s=sum(cpu_by_pid.values()),
        peak_rss_bytes=peak,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
        cpu_by_thread=dict(by_thread.most_common()),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m spark_analytics.bench.measure -- COMMAND...`: runs it, then prints its output
    and one line with the wall time, CPU time and peak memory of its process tree."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m spark_analytics.bench.measure")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling period, seconds")
    parser.add_argument(
        "--threads", type=int, default=0, help="also print the N thread groups using most CPU"
    )
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
    for name, cpu in list(result.cpu_by_thread.items())[: args.threads]:
        print(f"thread cpu: {cpu:7.1f}s  {name}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
