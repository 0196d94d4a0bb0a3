"""Run dbt Python models on open-source Spark.

``method: session``: the compiled model runs inside the dbt process with the SparkSession dbt
already uses (same JVM, same catalog, same registered UDFs).
``method: thrift``/``http``: the compiled model runs in the dbt process against the cluster
through Spark Connect (``connect_url``); with Thrift and Connect served by one Spark
application, Python and SQL models share the catalog.
"""

from __future__ import annotations

import linecache
import threading
import traceback
from typing import Any

from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.spark.connections import SparkConnectionMethod
from dbt.adapters.spark_oss.connections import SparkOssCredentials, spark_session_for

logger = AdapterLogger("SparkOss")

_connect_sessions: dict[str, Any] = {}
_connect_guard = threading.Lock()


def connect_session(url: str) -> Any:
    """One Spark Connect session per URL for the life of the process."""
    with _connect_guard:
        session = _connect_sessions.get(url)
        if session is None:
            from pyspark.sql import SparkSession

            try:
                session = SparkSession.builder.remote(url).getOrCreate()
            except Exception as exc:  # pragma: no cover - depends on a running server
                raise DbtRuntimeError(
                    f"Cannot open a Spark Connect session at {url} for Python models: "
                    f"{type(exc).__name__}: {exc}. Start the cluster's Spark Connect server "
                    "(same application as the Thrift server) or set connect_url in the profile."
                ) from exc
            _connect_sessions[url] = session
        return session


def user_code_line(tb: traceback.StackSummary | None, filename: str) -> int | None:
    """The last line number of ``filename`` in a traceback (the model's own code)."""
    if tb is None:
        return None
    lines = [frame.lineno for frame in tb if frame.filename == filename]
    return lines[-1] if lines else None


def one_line_error(model_path: str, exc: BaseException, line: int | None) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > 300:
        first = first[:297] + "..."
    where = f"{model_path}, line {line}" if line else model_path
    return (
        f"Python model failed in {where}: {type(exc).__name__}: {first} (full traceback in dbt.log)"
    )


def run_python_model(spark: Any, compiled_code: str, unique_id: str, model_path: str) -> None:
    """Execute compiled Python model code with ``spark`` in scope.

    The model's code comes first in the compiled code, so line numbers match the model file.
    On failure the full traceback goes to dbt.log and a one-line DbtRuntimeError is raised.
    """
    filename = f"<dbt python model {unique_id}>"
    linecache.cache[filename] = (
        len(compiled_code),
        None,
        compiled_code.splitlines(True),
        filename,
    )
    namespace: dict[str, Any] = {"__name__": "__dbt_python_model__", "spark": spark}
    try:
        exec(compile(compiled_code, filename, "exec"), namespace)
    except Exception as exc:
        summary = traceback.extract_tb(exc.__traceback__)
        logger.debug(
            f"Python model {unique_id} ({model_path}) raised:\n"
            + "".join(traceback.format_exception(exc))
        )
        raise DbtRuntimeError(
            one_line_error(model_path, exc, user_code_line(summary, filename))
        ) from None
    finally:
        linecache.cache.pop(filename, None)


class SparkOssPythonJobHelper(PythonJobHelper):
    """``submission_method: session`` (the default of the spark_oss adapter)."""

    def __init__(self, parsed_model: dict, credentials: SparkOssCredentials) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials
        self.unique_id = parsed_model.get("unique_id", parsed_model.get("alias", "model"))
        self.model_path = parsed_model.get("original_file_path") or self.unique_id

    def spark(self) -> Any:
        method = self.credentials.method
        if method == SparkConnectionMethod.SESSION:
            return spark_session_for(self.credentials)
        if method in (SparkConnectionMethod.THRIFT, SparkConnectionMethod.HTTP):
            return connect_session(self.credentials.resolved_connect_url())
        raise DbtRuntimeError(
            f"Python models are not supported with method '{method}' by the spark_oss adapter "
            "(use session, or thrift with a Spark Connect server)."
        )

    def submit(self, compiled_code: str) -> None:
        run_python_model(self.spark(), compiled_code, self.unique_id, self.model_path)
