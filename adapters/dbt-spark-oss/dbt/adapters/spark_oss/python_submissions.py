"""Run dbt Python models on open-source Spark.

``method: session``: the compiled model runs inside the dbt process on a copy of the embedded
SparkSession (``connection_session``: same JVM, catalog and registered UDFs; its settings and
temporary views its own).
``method: thrift``/``http``: the compiled model runs in the dbt process against the cluster
through Spark Connect (``connect_url``); with Thrift and Connect served by one Spark
application, Python and SQL models share the catalog.
"""

from __future__ import annotations

import linecache
import os
import threading
import traceback
from typing import Any

from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.spark.connections import SparkConnectionMethod
from dbt.adapters.spark_oss.connections import (
    CONNECT_TOKEN_ENV,
    SparkOssCredentials,
    connect_url_with_token,
    connection_session,
    ensure_session_ready,
    forget_udf_registrations,
    register_udf_modules,
)

logger = AdapterLogger("SparkOss")

_connect_sessions: dict[str, Any] = {}
_connect_guard = threading.Lock()


def connect_session(url: str) -> Any:
    """One Spark Connect session per URL, until ``close_connect_sessions``."""
    with _connect_guard:
        session = _connect_sessions.get(url)
        if session is None:
            from pyspark.sql import SparkSession

            token = os.environ.get(CONNECT_TOKEN_ENV, "").strip()
            try:
                # create(), not getOrCreate(): never a session of the program running dbt
                # (possibly on another server), which close_connect_sessions would stop.
                session = SparkSession.builder.remote(connect_url_with_token(url)).create()
            except Exception as exc:  # pragma: no cover - depends on a running server
                detail = str(exc).replace(token, "***") if token else str(exc)
                raise DbtRuntimeError(
                    f"Cannot open a Spark Connect session at {url} for Python models: "
                    f"{type(exc).__name__}: {detail}. Start the cluster's Spark Connect server "
                    "(same application as the Thrift server), set connect_url in the profile, "
                    f"or ${CONNECT_TOKEN_ENV} if the server requires a token."
                ) from None
            _connect_sessions[url] = session
    # dbt runs models in worker threads, and Spark Connect's "active session" is per thread:
    # make it active here too, so APIs that look it up (e.g. PipelineModel.load) find it.
    type(session)._set_default_and_active_session(session)
    return session


def close_connect_sessions() -> None:
    """Stops the Spark Connect sessions of this process (at the end of each dbt invocation).

    The server releases their state now rather than at its session timeout, and nothing is
    left for PySpark's clean-up at process exit: in a process that outlives the server (an
    orchestrator running dbt in-process), that clean-up retried against the gone server for
    minutes before the process could exit. The next Python model opens a new session. Process-
    wide: dbt runs one invocation at a time in a process.
    """
    with _connect_guard:
        sessions = list(_connect_sessions.values())
        _connect_sessions.clear()
    if not sessions:
        return  # without importing Spark Connect's client (its cost: the adapter's README)
    from pyspark.sql.connect.client.retries import DefaultPolicy

    for session in sessions:
        forget_udf_registrations(session)
        # Releasing the session retries for up to 10 minutes by default: a server that went away
        # during the command must not hold its end that long. A few seconds, then give up.
        session.client.set_retry_policies([DefaultPolicy(max_retries=2, max_backoff=1000)])
        session.stop()  # best effort by PySpark's contract: it logs, never raises


def prepare_code(compiled_code: str, raw_code: str | None) -> tuple[str, int, int]:
    """Code to execute, plus (line offset, line count) of the model's own code in it.

    dbt's materialization macros indent the rendered code; the model's code comes first, so
    stripping the leading whitespace makes it valid Python whose line N is line N + offset of
    the model file.
    """
    code = compiled_code.lstrip()
    raw = raw_code or ""
    stripped = raw.lstrip()
    offset = raw[: len(raw) - len(stripped)].count("\n")
    return code, offset, stripped.rstrip().count("\n") + 1 if stripped else 0


def failing_line(exc: BaseException, filename: str) -> int | None:
    """Line (in the executed code) where ``exc`` was raised from that code, if any."""
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def one_line_error(
    model_path: str, exc: BaseException, line: int | None, offset: int = 0, model_lines: int = 0
) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > 300:
        first = first[:297] + "..."
    if line is not None and line <= model_lines:
        where = f"{model_path}, line {line + offset}"
    elif line is not None:
        where = f"{model_path} (while materializing the returned DataFrame)"
    else:
        where = model_path
    return (
        f"Python model failed in {where}: {type(exc).__name__}: {first} (full traceback in dbt.log)"
    )


def run_python_model(
    spark: Any,
    compiled_code: str,
    unique_id: str,
    model_path: str,
    raw_code: str | None = None,
) -> None:
    """Execute compiled Python model code with ``spark`` in scope.

    On failure the full traceback goes to dbt.log and a one-line DbtRuntimeError is raised
    (exception type, first line of its message and the line in the model file).
    """
    code, offset, model_lines = prepare_code(compiled_code, raw_code)
    filename = f"<dbt python model {unique_id}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__dbt_python_model__", "spark": spark}
    try:
        exec(compile(code, filename, "exec"), namespace)
    except Exception as exc:
        logger.debug(
            f"Python model {unique_id} ({model_path}; add {offset} to line numbers up to line "
            f"{model_lines} for the model file) raised:\n"
            + "".join(traceback.format_exception(exc))
        )
        message = one_line_error(model_path, exc, failing_line(exc, filename), offset, model_lines)
        raise DbtRuntimeError(message) from None
    finally:
        linecache.cache.pop(filename, None)


class SparkOssPythonJobHelper(PythonJobHelper):
    """``submission_method: session`` (the default of the spark_oss adapter)."""

    def __init__(self, parsed_model: dict, credentials: SparkOssCredentials) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials
        self.unique_id = parsed_model.get("unique_id", parsed_model.get("alias", "model"))
        self.model_path = parsed_model.get("original_file_path") or self.unique_id
        self.raw_code = parsed_model.get("raw_code")

    def spark(self) -> Any:
        method = self.credentials.method
        if method == SparkConnectionMethod.SESSION:
            # A session of its own, as a SQL node's connection has: what the model sets
            # (spark.conf.set, temporary views) cannot reach the nodes beside or after it.
            return connection_session(ensure_session_ready(self.credentials))
        if method in (SparkConnectionMethod.THRIFT, SparkConnectionMethod.HTTP):
            spark = connect_session(self.credentials.resolved_connect_url())
            modules = list(getattr(self.credentials, "python_udf_modules", None) or [])
            if modules:  # for Python models only: the Thrift SQL session is another session
                register_udf_modules(spark, modules)
            return spark
        raise DbtRuntimeError(
            f"Python models are not supported with method '{method}' by the spark_oss adapter "
            "(use session, or thrift with a Spark Connect server)."
        )

    def submit(self, compiled_code: str) -> None:
        run_python_model(
            self.spark(), compiled_code, self.unique_id, self.model_path, self.raw_code
        )
