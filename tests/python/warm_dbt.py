"""The suites' dbt commands, run in one long-lived process per project (one JVM, warm).

A ``dbt`` process pays about 7 s before its first model (Python and dbt import, a JVM and a
SparkSession with Hive) and then meets every query shape with a cold JVM; the suites run
about 190 dbt commands. A warm runner is one process per project, started through
scripts/in_env.sh with the project's environment, that runs each command with dbtRunner, dbt's
programmatic entry point, the way ``spark_analytics.streaming.pipeline`` does: the session
target's ``getOrCreate()`` returns the same SparkSession every time. Commands with other values
of PER_COMMAND_VARIABLES (the schema, the target folder, the data folder) share the runner.

Per command, as in a ``dbt`` process: argument parsing, (partial) parsing of the project, the
adapter and its connections, the hooks, dbt's stdout and stderr (captured per command), and
its exit code (0 success, 1 failed nodes, 2 error; a process killed by a fault point reports
the signal like ``subprocess`` does). Before each command the session forgets what a new
process would not know: cached data, resolved tables, file listings, temporary views. Shared
across commands: the JVM (warm: JIT-compiled, about 3x faster on this project's small
queries) and SparkSession, imported Python modules, and the caches that dbt's own
functional-test fixture turns on (``dbt_common.tests.enable_test_caching``): jinja's syntax
trees and the macro calls found in them, each keyed by its text, and the list of ``dbt_*``
plugin modules. With them a full parse of this project (``--no-partial-parse``, or a new
``--vars``, profile or target) takes 43 % less time (1.06 s against 1.88 s). dbt's cache of a
file's top-level blocks is replaced by one that also keeps the warnings found while lexing them
(a stray block, D023) and gives them again on a hit, as a process would (``_cache_blocks``). A
runner is replaced when its SparkContext is gone, when the environment changes, and stopped
before anything else opens the project's metastore (Derby admits one JVM at a time):
``DbtProject.env()`` stops it. Not reset between commands, unlike in a new process: runtime SQL
settings a command SETs or a program's ``build_session`` applies (this project's models set
none; ``build_session`` applies the settings the repository's profile also sets) and the Python
UDFs registered into the session.

The runner also runs the suites' Python programs that open the project's metastore the way dbt
does (``run_python``: the stream pipeline's cycles, the report, ``DbtProject.catalog``'s
queries): their ``build_session`` returns the runner's SparkSession, and they save a JVM start
each, plus the runner's restart that a process of their own would force. What a program changes
in the runner's Python (environment, working directory, ``sys.argv``, ``__main__``, the root
logger) is put back after it; a program that stops the session ends the runner.

Run as a script, this module is the runner: one JSON request per stdin line, one JSON reply per
line on the original stdout; the JVM's own output goes to ``<DBT_LOG_PATH>/warm-dbt.log``.

Two kinds of test keep a ``dbt`` process (``DbtProject(..., warm=False)``): what the console
shows, and what the JVM does on its own (e.g. Derby's errors).
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypedDict, Unpack

# Runners alive at once per test process (each holds a JVM); the least recently used goes.
MAX_RUNNERS = 2
# A runner stops its SparkSession before exiting (Derby's shutdown); then it is killed.
STOP_TIMEOUT_SECONDS = 60
# In <DBT_LOG_PATH>: what the runner's JVM prints (a `dbt` process would print it on stderr).
JVM_LOG_NAME = "warm-dbt.log"
# pytest sets it to the current test and phase, so passing it on replaced the runner at every
# test (and between a fixture's setup and the test's call). dbt reads it (a malformed event
# raises under pytest), so the runner keeps it, with one value for all tests.
PER_TEST_VARIABLES = {"PYTEST_CURRENT_TEST": "tests/python/warm_dbt.py (warm dbt runner)"}
# Set in the test process's environment by PySpark's SparkContext when it starts (the `spark`
# fixture's; pyspark/core/context.py), for that context's Python workers. A runner's
# SparkContext sets its own, so they are not passed on: they replaced the runner once per
# worker, at the first command after the fixture started.
SPARK_CONTEXT_VARIABLES = ("SPARK_AUTH_SOCKET_TIMEOUT", "SPARK_BUFFER_SIZE")
# Read by dbt afresh at each command (a flag's variable, the profile's and the sources'
# env_var()); the JVM, started by the runner's first command, inherits that command's values and
# reads none. A command with other values sets them in the runner before it runs instead of
# replacing the runner (the suites build one state into several schemas and target folders,
# from several data folders).
PER_COMMAND_VARIABLES = ("DBT_SCHEMA", "DBT_TARGET_PATH", "DATA_DIR")


@dataclass
class _Runner:
    process: subprocess.Popen[str]
    env: dict[str, str]
    cwd: Path


_runners: dict[str, _Runner] = {}


def _runner_key(state_dir: Path) -> str:
    return str(state_dir.resolve())


def stop(state_dir: Path) -> None:
    """Stops the runner of this project state, if any (its JVM and metastore lock go with it)."""
    runner = _runners.pop(_runner_key(state_dir), None)
    if runner is None:
        return
    if runner.process.stdin:
        with contextlib.suppress(OSError):
            runner.process.stdin.close()
    try:
        runner.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        timed_out = False
    except subprocess.TimeoutExpired:
        runner.process.send_signal(signal.SIGUSR1)  # its Python stacks, into JVM_LOG_NAME
        time.sleep(1)
        runner.process.kill()
        runner.process.wait()
        timed_out = True
    if runner.process.stdout:
        runner.process.stdout.close()
    if timed_out:
        # Shown in pytest's warnings summary: a stop should take about a second.
        warnings.warn(
            f"the warm dbt runner of {state_dir} did not stop within {STOP_TIMEOUT_SECONDS} s;"
            f" killed (its stacks: {JVM_LOG_NAME} in the project's DBT_LOG_PATH)",
            stacklevel=1,
        )


def runner_pid(state_dir: Path) -> int | None:
    """The process id of this project state's runner, if one is running."""
    runner = _runners.get(_runner_key(state_dir))
    return None if runner is None or runner.process.poll() is not None else runner.process.pid


def stop_all() -> None:
    """Stops every runner of this test process (at exit; a killed pytest closes their stdin)."""
    for key in list(_runners):
        stop(Path(key))


atexit.register(stop_all)


def _runner(state_dir: Path, env: dict[str, str], cwd: Path, in_env: Path) -> _Runner:
    key = _runner_key(state_dir)
    runner = _runners.get(key)
    if runner is not None and (
        (runner.env, runner.cwd) != (env, cwd) or runner.process.poll() is not None
    ):
        stop(state_dir)
        runner = None
    if runner is None:
        while len(_runners) >= MAX_RUNNERS:
            stop(Path(next(iter(_runners))))
        process = subprocess.Popen(
            [str(in_env), sys.executable, str(Path(__file__).resolve())],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        runner = _Runner(process=process, env=env, cwd=cwd)
    _runners.pop(key, None)
    _runners[key] = runner  # most recently used last
    return runner


class Place(TypedDict):
    """Where a command runs: the project's state, environment, working and runner folders."""

    state_dir: Path
    env: dict[str, str]
    cwd: Path
    workdir: Path
    in_env: Path


def run(args: list[str], **place: Unpack[Place]) -> subprocess.CompletedProcess[str]:
    """``dbt <args>`` in the project's warm runner; the result a ``dbt`` process would give."""
    return _request({"args": args}, ["dbt", *args], **place)


def run_python(
    argv: list[str], *, timeout: float | None = None, **place: Unpack[Place]
) -> subprocess.CompletedProcess[str]:
    """``python -m module ...`` or ``python -c code ...`` (``argv``) in the project's warm runner,
    for a program that opens the project's metastore the way dbt does (``build_session``'s
    ``getOrCreate`` returns the runner's SparkSession); the result the process would give.
    Past ``timeout`` seconds the runner is stopped (its stacks in JVM_LOG_NAME) and
    ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` would."""
    if len(argv) < 2 or argv[0] not in ("-m", "-c"):
        raise ValueError(f"expected -m module or -c code, then arguments: {argv}")
    return _request({"python": argv}, [sys.executable, *argv], timeout=timeout, **place)


def _request(
    request: dict[str, object],
    command: list[str],
    *,
    state_dir: Path,
    env: dict[str, str],
    cwd: Path,
    workdir: Path,
    in_env: Path,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in env.items() if key not in SPARK_CONTEXT_VARIABLES}
    env.update({key: value for key, value in PER_TEST_VARIABLES.items() if key in env})
    per_command = {key: env.pop(key, None) for key in PER_COMMAND_VARIABLES}
    runner = _runner(state_dir, env, cwd, in_env)
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="warm-dbt-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        request = {**request, "env": per_command, "stdout": str(out), "stderr": str(err)}
        assert runner.process.stdin and runner.process.stdout
        try:
            runner.process.stdin.write(json.dumps(request) + "\n")
            runner.process.stdin.flush()
            # One reply per request, so nothing is buffered ahead of it: the pipe itself tells.
            if (
                timeout is not None
                and not select.select([runner.process.stdout], [], [], timeout)[0]
            ):
                raise subprocess.TimeoutExpired(command, timeout)
            reply = runner.process.stdout.readline()
        except BrokenPipeError:
            reply = ""
        except BaseException:  # e.g. a timeout: the reply would answer the next request
            stop(state_dir)
            raise
        if reply:
            answer = json.loads(reply)
            returncode, usable = answer["returncode"], answer["usable"]
        else:  # the runner died mid-command (e.g. a fault point's kill -9)
            returncode, usable = runner.process.wait(), False
        stdout = out.read_text(errors="replace") if out.exists() else ""
        stderr = err.read_text(errors="replace") if err.exists() else ""
    if not usable:
        stop(state_dir)
    return subprocess.CompletedProcess(command, returncode, stdout, stderr)


# --- the runner process ---------------------------------------------------------------------


def _forget_session_state() -> None:
    """What a new ``dbt`` process would not have: cached data, resolved tables (with their file
    listings: a rewritten file's new modification time must be seen), temporary views, the
    current database, dbt's once-per-process deprecation warnings and the last command's
    selection (dbt keeps it in a module: `selected_resources` of a run-operation showed it)."""
    from dbt import selected_resources  # noqa: PLC0415 - runner process only
    from dbt.deprecations import reset_deprecations  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    reset_deprecations()
    selected_resources.set_selected_resources(set())
    session = SparkSession._instantiatedSession  # dbt's threads made it; not "active" here
    if session is None:
        return
    session.catalog.clearCache()
    catalog = session._jsparkSession.sessionState().catalog()
    catalog.invalidateAllCachedTables()  # drops each table's file index, so files are relisted
    catalog.clearTempTables()
    if session.catalog.currentDatabase() != "default":
        session.catalog.setCurrentDatabase("default")


def _set_command_variables(values: dict[str, str | None]) -> None:
    """This command's PER_COMMAND_VARIABLES, as its process would have them (None: unset)."""
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _session_usable() -> bool:
    """False when the JVM or SparkContext is gone (the next command needs a new runner)."""
    from pyspark import SparkContext  # noqa: PLC0415 - runner process only
    from pyspark.sql import SparkSession  # noqa: PLC0415

    session = SparkSession._instantiatedSession
    if session is None:
        # No session: usable if none was ever started (e.g. after `dbt parse`: the next command
        # makes one); not if a program stopped it (the JVM stays, its context is gone).
        return SparkContext._gateway is None
    try:
        return not session._jsc.sc().isStopped()
    except Exception:  # noqa: BLE001 - Py4J's errors when the gateway is gone
        return False


def _invoke(args: list[str]) -> int:
    """dbt's exit code for ``dbt <args>``: 0 success, 1 failed nodes, 2 error."""
    from dbt.cli.exceptions import DbtUsageException  # noqa: PLC0415 - runner process only
    from dbt.cli.main import dbtRunner  # noqa: PLC0415

    result = dbtRunner().invoke(args)
    if result.success:
        return 0
    if isinstance(result.exception, DbtUsageException):
        print(f"Error: {result.exception}", file=sys.stderr)  # what click prints for `dbt`
    return 2 if result.exception is not None else 1


def _invoke_python(argv: list[str]) -> int:
    """The exit code ``python <argv>`` would give: ``-m module args`` or ``-c code args``. What
    the program changes in the process (environment, working directory, ``sys.argv``,
    ``__main__``, the root logger) is put back afterwards, as its process's end would."""
    import logging  # noqa: PLC0415 - runner process only
    import runpy  # noqa: PLC0415
    import types  # noqa: PLC0415

    option, target, *args = argv
    saved_argv, saved_main, saved_env, saved_cwd = (
        sys.argv,
        sys.modules["__main__"],
        dict(os.environ),
        os.getcwd(),
    )
    root = logging.getLogger()
    saved_logging = (root.level, root.handlers[:])
    try:
        if option == "-m":
            sys.argv = [target, *args]  # runpy puts the module's file in sys.argv[0]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *args]
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main
            exec(compile(target, "<string>", "exec"), main.__dict__)  # noqa: S102
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    except Exception:  # noqa: BLE001 - the program's uncaught error, as Python reports it
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.modules["__main__"] = saved_argv, saved_main
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]
    return 0


def _exit_status(code: object) -> int:
    """The status a process exiting with ``sys.exit(code)`` gives its parent."""
    if code is None:
        return 0
    if isinstance(code, int):  # bool included: sys.exit(True) is 1
        return int(code) & 0xFF
    print(code, file=sys.stderr)  # what Python prints for SystemExit("message")
    return 1


class _Switch(io.TextIOBase):
    """The runner's sys.stdout and sys.stderr: writes go to the current command's file. Output
    set up once per process (PySpark's and py4j's log handlers) keeps the stream object it was
    given, so that object stays in place and only its target changes."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


def _handle(request: dict[str, object], stdout: _Switch, stderr: _Switch) -> dict[str, object]:
    """Runs one command with its output in the request's files; the reply to send back."""
    from dbt.adapters.spark_oss.connections import wait_for_early_start  # noqa: PLC0415

    log = stdout.target
    with (
        open(str(request["stdout"]), "w", buffering=1) as out,
        open(str(request["stderr"]), "w", buffering=1) as err,
    ):
        stdout.target, stderr.target = out, err
        try:
            _forget_session_state()
            _set_command_variables(request["env"])  # type: ignore[arg-type]
            if "python" in request:
                returncode = _invoke_python(list(request["python"]))  # type: ignore[arg-type]
            else:
                returncode = _invoke(list(request["args"]))  # type: ignore[arg-type]
        except BaseException:  # noqa: BLE001 - the runner's own failure, reported as dbt's error
            traceback.print_exc(file=err)
            return {"returncode": 2, "usable": False}
        finally:
            stdout.target, stderr.target = log, log
    # A command that failed early may end while its session still starts: the next one gets it
    # started (or, past the timeout, a new runner), not a JVM without a session yet.
    started = wait_for_early_start(STOP_TIMEOUT_SECONDS)
    return {"returncode": returncode, "usable": started and _session_usable()}


def _cache_blocks() -> None:
    """dbt's cache of a text's top-level blocks (``enable_test_caching``) skips, on a hit, the
    warnings that lexing the text gave (D023, a stray block): a process gives them at every full
    parse. This cache keeps them with the blocks: on a miss each goes to the caller's callback as
    lexing finds it (before a lexing error, as in a process), on a hit all of them again."""
    from dbt.parser import search  # noqa: PLC0415 - runner process only
    from dbt_common.clients import jinja  # noqa: PLC0415
    from dbt_common.clients._jinja_blocks import (  # noqa: PLC0415
        BlockData,
        BlockIterator,
        BlockTag,
        ExtractWarning,
        TagIterator,
    )

    Blocks = list[BlockData | BlockTag]
    cache: dict[tuple[str, frozenset[str] | None, bool], tuple[Blocks, list[ExtractWarning]]] = {}

    def extract_toplevel_blocks(
        text: str,
        allowed_blocks: set[str] | None = None,
        collect_raw_data: bool = True,
        warning_callback: Callable[[ExtractWarning], None] | None = None,
    ) -> Blocks:
        allowed = None if allowed_blocks is None else frozenset(allowed_blocks)
        key = (text, allowed, collect_raw_data)
        if key in cache:
            blocks, found = cache[key]
            for warning in found if warning_callback else ():
                warning_callback(warning)
            return blocks
        found = []

        def collect(warning: ExtractWarning) -> None:
            found.append(warning)
            if warning_callback:
                warning_callback(warning)

        # dbt's function, without its cache
        blocks = BlockIterator(TagIterator(text), collect).lex_for_blocks(
            allowed_blocks=allowed_blocks, collect_raw_data=collect_raw_data
        )
        cache[key] = (blocks, found)
        return blocks

    # dbt's parsers call it through the module, the file search by the name it imported.
    jinja.extract_toplevel_blocks = search.extract_toplevel_blocks = extract_toplevel_blocks


def _serve() -> None:
    """Answers requests until stdin closes, then stops the SparkSession."""
    from dbt_common.tests import enable_test_caching  # noqa: PLC0415 - runner process only

    enable_test_caching()
    _cache_blocks()
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    # Nothing else reads the request channel or writes the reply channel: the JVM (started by
    # the first command) inherits these descriptors.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    log_dir = Path(os.environ.get("DBT_LOG_PATH", "logs"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / JVM_LOG_NAME, "a", buffering=1)  # noqa: SIM115 - the process's life
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    faulthandler.register(signal.SIGUSR1, file=log, all_threads=True)  # see stop()
    stdout, stderr = _Switch(log), _Switch(log)
    sys.stdin, sys.stdout, sys.stderr = open(os.devnull), stdout, stderr  # noqa: SIM115
    for line in requests:
        replies.write(json.dumps(_handle(json.loads(line), stdout, stderr)) + "\n")
    _stop_session()


def _stop_session() -> None:
    from pyspark.sql import SparkSession  # noqa: PLC0415 - runner process only

    session = SparkSession._instantiatedSession
    if session is not None:
        session.stop()  # Derby shuts down cleanly; the metastore lock goes with the process


if __name__ == "__main__":
    # Not importable from here: dbt imports every top-level module named dbt_* (its plugin
    # discovery), and this folder's dbt_project.py is one.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    _serve()
