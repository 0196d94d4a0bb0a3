"""Start, stop and inspect the cluster: `up`, `down`, `status`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from spark_analytics import progress
from spark_analytics.cluster.commands import (
    app_command,
    hive_dirs,
    master_command,
    process_env,
    server_launch,
    worker_command,
)
from spark_analytics.cluster.config import LOOPBACK, ClusterError, Settings
from spark_analytics.cluster.health import alive_workers, connect_query, thrift_query
from spark_analytics.cluster.processes import (
    check_ports_free,
    group_members,
    listeners_of,
    pid_alive,
    port_answers,
    tail,
)
from spark_analytics.cluster.security import (
    CLIENT_TOKEN_ENV,
    new_token,
    server_env,
    token_file,
)
from spark_analytics.cluster.state import Component, read_state, write_state


def _log(msg: str) -> None:
    print(f"cluster: {msg}", flush=True)


def write_conf(settings: Settings) -> None:
    conf = settings.state_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    # Daemons log INFO to their log file; beeline only warnings (so its stdout is the result).
    (conf / "log4j2.properties").write_text(
        "rootLogger.level = info\n"
        "rootLogger.appenderRef.stdout.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n\n"
        "logger.jetty.name = org.sparkproject.jetty\n"
        "logger.jetty.level = warn\n"
    )
    (conf / "log4j2-beeline.properties").write_text(
        "rootLogger.level = warn\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %p %c{1}: %m%n\n"
    )


def spawn(
    settings: Settings,
    name: str,
    cmd: list[str],
    ports: list[int],
    extra_env: dict[str, str] | None = None,
) -> Component:
    """Starts one process; ``extra_env`` (secrets) goes to its environment only, never to
    the command line or the state file."""
    log = settings.log_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd,
            cwd=settings.state_dir,
            env={**process_env(settings), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: `down` signals the whole group
        )
    return Component(name=name, pid=proc.pid, log=str(log), ports=ports, command=cmd)


def wait_for(
    what: str,
    check: Callable[[], bool],
    deadline: float,
    components: list[Component],
    interval: float = 1.0,
) -> None:
    last_error: Exception | None = None
    started = time.monotonic()
    waiting = progress.wait(f"waiting for {what}", deadline - started)
    while time.monotonic() < deadline:
        progress.tick(waiting, time.monotonic() - started)
        for comp in components:
            if not pid_alive(comp.pid):
                raise ClusterError(
                    f"{comp.name} (pid {comp.pid}) exited while waiting for {what}; "
                    f"last lines of {comp.log}:\n{tail(Path(comp.log))}"
                )
        try:
            if check():
                waiting.close()
                return
        except Exception as exc:  # noqa: BLE001 (any failure means: not ready yet)
            last_error = exc
        time.sleep(interval)
    waiting.close()
    logs = "\n".join(f"--- {c.log}\n{tail(Path(c.log), 25)}" for c in components[-1:])
    raise ClusterError(
        f"timed out waiting for {what} (raise CLUSTER_START_TIMEOUT, in seconds); "
        f"last error: {last_error!r}\n{logs}"
    )


def _start_master_and_workers(
    settings: Settings, components: list[Component], deadline: float
) -> None:
    """The standalone master and its workers, registered; appended to ``components``."""
    _log(f"starting master {settings.master_url} (UI http://{LOOPBACK}:{settings.master_ui_port})")
    components.append(
        spawn(
            settings,
            "master",
            master_command(settings),
            [settings.master_port, settings.master_ui_port],
        )
    )
    write_state(settings, components)
    wait_for("the master", lambda: port_answers(settings.master_port), deadline, components)
    for i in range(settings.workers):
        name = f"worker-{i + 1}"
        _log(f"starting {name} ({settings.worker_cores} core, {settings.worker_memory})")
        components.append(
            spawn(settings, name, worker_command(settings, i), [settings.worker_ui_port + i])
        )
        write_state(settings, components)
    wait_for(
        f"{settings.workers} workers to register",
        lambda: alive_workers(settings) >= settings.workers,
        deadline,
        components,
    )


def up(settings: Settings) -> list[Component]:
    started = time.monotonic()
    existing = read_state(settings)
    if existing:
        if all(pid_alive(c.pid) for c in existing):
            _log(f"already running (state in {settings.state_file}); `down` first to restart")
            return existing
        _log("stale state from a previous run: stopping what is left of it")
        down(settings)
    check_ports_free(settings)
    for sub in ("logs", "conf", "local", "work", "hive"):
        (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)
    write_conf(settings)
    deadline = started + settings.start_timeout
    components: list[Component] = []
    try:
        if not settings.local_mode:  # local mode: the application alone
            _start_master_and_workers(settings, components, deadline)
        _log(
            f"submitting the Thrift Server + Spark Connect application "
            f"(thrift {LOOPBACK}:{settings.thrift_port}, connect {settings.connect_url})"
        )
        token = new_token(settings)  # per cluster; clients read it from the 0600 file
        launch = server_launch(settings)  # once: the class archive may appear meanwhile
        # Only this one: Hive creates the others itself (the root scratch folder with the
        # 0733 mode it insists on).
        hive_dirs(settings)["hive.exec.local.scratchdir"].mkdir(parents=True, exist_ok=True)
        components.append(
            spawn(
                settings,
                "thriftserver",
                app_command(settings, launch),
                [settings.thrift_port, settings.connect_port, settings.app_ui_port],
                extra_env={**server_env(token), **launch.env},
            )
        )
        write_state(settings, components)
        wait_for(
            f"the Thrift Server to answer `select 1` on {LOOPBACK}:{settings.thrift_port}",
            lambda: port_answers(settings.thrift_port) and thrift_query(settings) == [(1,)],
            deadline,
            components,
            interval=2.0,
        )
        wait_for(
            f"Spark Connect to answer on {settings.connect_url}",
            lambda: connect_query(settings) == [(1,)],
            deadline,
            components,
            interval=2.0,
        )
    except BaseException:
        _log("start-up failed: stopping what was started")
        stop_components(settings, components)
        settings.state_file.unlink(missing_ok=True)
        raise
    elapsed = time.monotonic() - started
    _log(
        f"up in {elapsed:.1f}s: {'local mode' if settings.local_mode else 'master'} "
        f"{settings.master_url}, thrift {settings.jdbc_url}, "
        f"connect {settings.connect_url} (token in {token_file(settings)}), "
        f"state {settings.state_dir}"
    )
    return components


def _environ(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def owned_groups(settings: Settings, components: list[Component]) -> list[int]:
    """Process groups of `components` that are still ours: some member has this cluster's
    SPARK_PID_DIR in its environment, which only `process_env` sets (guards against pids reused
    since a stale state file)."""
    marker = f"SPARK_PID_DIR={settings.state_dir}"
    return [
        c.pid for c in components if any(marker in _environ(pid) for pid in group_members([c.pid]))
    ]


def stop_components(settings: Settings, components: list[Component]) -> list[int]:
    """SIGTERM each process group (app first, master last), then SIGKILL what is left."""
    pgids = owned_groups(settings, components)
    components = [c for c in components if c.pid in pgids]
    deadline = time.monotonic() + settings.stop_timeout
    for comp in reversed(components):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(comp.pid, signal.SIGTERM)
        # Let the app release its executors before the workers go away.
        _wait_gone([comp.pid], min(10.0, deadline - time.monotonic()))
    _wait_gone(pgids, deadline - time.monotonic())
    left = group_members(pgids)
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    if left:
        _log(f"killed -9 after {settings.stop_timeout:.0f}s: pids {left}")
    _wait_gone(pgids, 10.0)
    return group_members(pgids)


def _wait_gone(pgids: list[int], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and group_members(pgids):
        time.sleep(0.2)


def down(settings: Settings) -> None:
    components = read_state(settings)
    if not components:
        _log(f"nothing to stop (no {settings.state_file})")
        return
    left = stop_components(settings, components)
    if left:
        raise ClusterError(f"processes still alive after SIGKILL: {left}")
    settings.state_file.unlink(missing_ok=True)
    token_file(settings).unlink(missing_ok=True)  # a new one comes with the next `up`
    _log("stopped: " + ", ".join(f"{c.name} (pid {c.pid})" for c in components))


def status(settings: Settings) -> bool:
    components = read_state(settings)
    if not components:
        _log(f"not running (no {settings.state_file})")
        return False
    healthy = True
    for comp in components:
        alive = pid_alive(comp.pid)
        ports = ", ".join(f"{p} {'up' if port_answers(p) else 'DOWN'}" for p in comp.ports)
        healthy &= alive and all(port_answers(p) for p in comp.ports)
        print(f"  {comp.name:<13} pid {comp.pid:<8} {'alive' if alive else 'DEAD':<6} {ports}")
    checks: list[tuple[str, Callable[[], object]]] = [
        ("thrift select 1", lambda: thrift_query(settings)),
        ("connect select 1", lambda: connect_query(settings)),
    ]
    # What `up` started decides, not this shell's CLUSTER_WORKERS: local mode has no master.
    workers = sum(comp.name.startswith("worker-") for comp in components)
    if any(comp.name == "master" for comp in components):
        checks.insert(0, ("workers registered", lambda: alive_workers(settings)))
    for label, check in checks:
        try:
            result = check()
            ok = result == [(1,)] or (isinstance(result, int) and result >= workers)
            print(f"  {label:<19} {'ok' if ok else 'FAILED'} ({result})")
        except Exception as exc:  # noqa: BLE001
            ok = False
            print(f"  {label:<19} FAILED ({type(exc).__name__}: {str(exc)[:200]})")
        healthy &= ok
    print(
        f"  {'connect token':<19} in {token_file(settings)} (owner-only); for dbt: "
        f"export {CLIENT_TOKEN_ENV}=$(cat {token_file(settings)})"
    )
    members = group_members(c.pid for c in components)
    public = [item for item in listeners_of(members) if not item.loopback]
    print(
        f"  {'listeners':<19} " + ("all on loopback" if not public else f"NOT loopback: {public}")
    )
    healthy &= not public
    print(f"cluster: {'healthy' if healthy else 'UNHEALTHY'}")
    return healthy
