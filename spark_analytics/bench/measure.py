"""One measured run of a command: wall time, CPU time and peak memory of its whole process tree.

A dbt or PySpark run is a Python process that starts a JVM; both count. The tree is sampled
every ``interval`` seconds with psutil: CPU time is the sum over every process seen of its last
sample (a process that exits between two samples loses at most one interval), peak memory the
largest sum of resident set sizes seen at once.

``cpu_by_thread`` splits the CPU time by thread name (Linux: ``/proc/<pid>/task/<tid>/comm``,
digits folded, so ``C2 CompilerThre`` or ``Executor task l`` group the JVM's compiler or task
threads): where a driver's CPU goes, e.g. how much of it is the JVM compiling Java
(BENCHMARKS.md, stop 26). ``--threads N`` prints the N largest groups.

``cpu_by_process`` splits it by what each process is (``process_kind``): a dbt process, a warm
dbt runner, a pytest worker, the JVM each of them started, the local cluster's JVMs... A
process that leaves the tree (a daemon whose parent exited, e.g. the local cluster's) is
followed until it exits. ``--processes N`` prints the N largest kinds: where a test suite's
CPU goes (BENCHMARKS.md, stop 43).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# The JVMs named by their main class (the local cluster's, spark_analytics/cluster); other JVMs
# are drivers, named by the Python process that started them.
JVM_ROLES = (
    ("org.apache.spark.deploy.master.Master", "JVM: cluster master"),
    ("org.apache.spark.deploy.worker.Worker", "JVM: cluster worker"),
    ("org.apache.spark.executor.CoarseGrainedExecutorBackend", "JVM: cluster executor"),
    ("org.apache.spark.sql.hive.thriftserver.HiveThriftServer2", "JVM: Thrift/Connect server"),
    ("org.apache.spark.sql.connect.service.SparkConnectServer", "JVM: Thrift/Connect server"),
)
# Linux's view of each process: its start (``process_key``) and its threads' names.
PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if PROC.is_dir() else 1  # /proc's unit of time
# Python programs by script name.
PYTHON_SCRIPTS = {"dbt": "dbt process", "warm_dbt.py": "warm dbt runner", "pytest": "pytest"}


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str
    cpu_by_thread: dict[str, float] = field(default_factory=dict)
    # process kind -> (CPU seconds, processes)
    cpu_by_process: dict[str, tuple[float, int]] = field(default_factory=dict)


def _is_python(command: Sequence[str]) -> bool:
    return bool(command) and Path(command[0]).name.startswith("python")


def python_kind(command: Sequence[str]) -> str:
    """``python -m module`` -> ``python -m module``; a script by its name (``dbt process``,
    ``warm dbt runner``...); pytest-xdist's worker (``python -c``, its code on stdin)."""
    args = list(command[1:])
    while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
        args.pop(0)  # interpreter flags such as -u, -X importtime
    if args[:1] == ["-m"] and len(args) > 1:
        return PYTHON_SCRIPTS.get(args[1], f"python -m {args[1]}")
    if args[:1] == ["-c"]:
        return "pytest worker" if "exec(eval(sys.stdin" in " ".join(args[1:2]) else "python -c"
    name = Path(args[0]).name if args else "python"
    return PYTHON_SCRIPTS.get(name, f"python {name}")


def process_kind(command: Sequence[str], ancestors: Sequence[Sequence[str]] = ()) -> str:
    """What a process is, from its command line and its ancestors' (nearest first): a JVM by its
    main class or, for a driver, by the Python program that started it; a Python program by
    ``python_kind``; anything else by its program name."""
    if not command:
        return "?"
    program = Path(command[0]).name
    if program == "java":
        text = " ".join(command)
        for main_class, kind in JVM_ROLES:
            if main_class in text:
                return kind
        owner = next((python_kind(a) for a in ancestors if _is_python(a)), None)
        return f"JVM of {owner}" if owner else "JVM"
    if _is_python(command):
        return python_kind(command)
    return program


def thread_group(name: str) -> str:
    """A thread's name with its numbers folded: ``GC Thread#3`` -> ``GC Thread#N``; the JIT's
    ``C1 ...`` and ``C2 ...`` keep theirs."""
    return name if name[:2] in ("C1", "C2") else re.sub(r"[0-9]+", "N", name)


def _thread_name(pid: int, tid: int) -> str:
    try:
        return (PROC / str(pid) / "task" / str(tid) / "comm").read_text().strip()
    except OSError:
        return "?"


def process_key(proc: psutil.Process) -> tuple[int, float]:
    """(pid, start): the start in seconds since boot, which a step of the wall clock (NTP, a
    virtual machine's clock catching up) does not move. psutil's ``create_time()`` adds the boot
    time, read anew from that clock, to it: a process the tree walk found again after a step got
    a new key, and its CPU and memory were counted again (BENCHMARKS.md, stop 68). Without
    ``/proc`` (not Linux), ``create_time()``."""
    if not PROC.is_dir():
        return proc.pid, proc.create_time()
    try:
        stat = (PROC / str(proc.pid) / "stat").read_text()
    except OSError as error:
        raise psutil.NoSuchProcess(proc.pid) from error
    # Field 22, starttime, in clock ticks; the fields after the command name, which may hold
    # spaces and parentheses, start at field 3.
    return proc.pid, int(stat.rsplit(")", 1)[1].split()[19]) / CLOCK_TICKS


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
    also: Callable[[], Iterable[int]] | None = None,
) -> Measurement:
    """Runs ``command`` to completion and measures it (its output is captured).

    ``also`` names more processes (pids, asked at every sample) that work for the command from
    outside its tree, e.g. a server it sends its queries to: their memory joins every sample,
    their CPU counts from when the command started (what they had used before is subtracted).
    """
    cpu_by_pid: dict[tuple[int, float], float] = {}
    # CPU that the `also` processes and their threads had used before the command started.
    before: dict[tuple[int, ...], float] = {}
    # (pid, start time, thread id) -> (thread name, its last CPU time)
    cpu_by_tid: dict[tuple[int, float, int], tuple[str, float]] = {}
    # Every process once seen, followed until it exits (even outside the tree), with its
    # latest command line (an exec changes it) and its parent's pid at first sight.
    followed: dict[tuple[int, float], psutil.Process] = {}
    commands: dict[tuple[int, float], list[str]] = {}
    parents: dict[tuple[int, float], int] = {}
    peak = 0

    def outside() -> list[psutil.Process]:
        found = []
        for pid in also() if also else ():
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
        return found

    def baseline(proc: psutil.Process, key: tuple[int, float]) -> None:
        with proc.oneshot():
            times = proc.cpu_times()
            before[key] = times.user + times.system
            for thread in proc.threads():
                before[(*key, thread.id)] = thread.user_time + thread.system_time

    for proc in outside():  # before the command starts: their CPU so far is not its
        with contextlib.suppress(psutil.Error):
            key = process_key(proc)
            baseline(proc, key)
            followed[key], parents[key] = proc, proc.ppid()
    if also and not followed:
        raise ValueError("measure: `also` named no running process")

    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    root = psutil.Process(process.pid)
    done = threading.Event()

    failures: list[BaseException] = []

    def sample() -> None:
        try:
            sample_until_done()
        except Exception as error:  # noqa: BLE001 (re-raised by measure: no silent truncation)
            failures.append(error)
            process.kill()

    def sample_until_done() -> None:
        nonlocal peak
        while not done.is_set():
            rss = 0
            for proc in [*_tree(root), *outside()]:
                try:
                    key = process_key(proc)  # a reused pid is another process
                    if key not in followed:
                        followed[key] = proc
                        parents[key] = proc.ppid()
                except psutil.Error:
                    continue
            for key, proc in list(followed.items()):
                try:
                    if not proc.is_running():  # exited, its pid maybe reused
                        raise psutil.NoSuchProcess(proc.pid)
                    with proc.oneshot():
                        times = proc.cpu_times()
                        cpu_by_pid[key] = times.user + times.system - before.get(key, 0.0)
                        commands[key] = proc.cmdline() or commands.get(key, [])
                        rss += proc.memory_info().rss
                        for thread in proc.threads():
                            tid = (*key, thread.id)
                            name = cpu_by_tid.get(tid, (None, 0.0))[0]
                            name = name or _thread_name(proc.pid, thread.id)
                            used = thread.user_time + thread.system_time - before.get(tid, 0.0)
                            cpu_by_tid[tid] = (name, used)
                except psutil.Error:
                    del followed[key]
                    continue
            peak = max(peak, rss)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if failures:
        raise RuntimeError(f"measure: sampling {command[:3]} failed") from failures[0]
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
        cpu_by_process=_by_kind(cpu_by_pid, commands, parents),
    )


def _by_kind(
    cpu_by_pid: dict[tuple[int, float], float],
    commands: dict[tuple[int, float], list[str]],
    parents: dict[tuple[int, float], int],
) -> dict[str, tuple[float, int]]:
    """CPU seconds and process count per ``process_kind``, largest first."""
    key_of_pid: dict[int, tuple[int, float]] = {}
    for key in sorted(commands, key=lambda k: k[1]):  # a reused pid: the later process
        key_of_pid[key[0]] = key
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for key, cpu in cpu_by_pid.items():
        ancestors, seen, parent = [], {key}, key_of_pid.get(parents.get(key, 0))
        while parent is not None and parent not in seen and parent[1] <= key[1]:
            seen.add(parent)
            ancestors.append(commands.get(parent, []))
            parent = key_of_pid.get(parents.get(parent, 0))
        kind = process_kind(commands.get(key, []), ancestors)
        totals[kind] += cpu
        counts[kind] += 1
    return {kind: (cpu, counts[kind]) for kind, cpu in totals.most_common()}


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
    parser.add_argument(
        "--processes", type=int, default=0, help="also print the N process kinds using most CPU"
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
    for kind, (cpu, count) in list(result.cpu_by_process.items())[: args.processes]:
        print(f"process cpu: {cpu:7.1f}s {count:4d}x  {kind}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
