"""Credentials and connection manager of the ``spark_oss`` adapter.

Everything of dbt-spark's connection handling is inherited; on top of it, for ``method: session``:
a process-wide OS lock on the embedded Derby metastore (fail fast instead of a Derby stack trace),
registration of the project's Python UDFs into the SparkSession dbt uses, and for each connection a
session of its own with the profile's Spark settings, applied once rather than before every
statement. For ``method: thrift`` and ``http``: a data test that only ran queries passes its
Thrift session on to the next data test of its thread (``SparkOssConnectionManager``).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dbt_common.exceptions import DbtRuntimeError
from dbt_common.invocation import get_invocation_id
from pyspark.sql.utils import AnalysisException
from spark_metastore_lock import SessionLockedError, acquire_session_lock, record_session_jvm

from dbt.adapters.contracts.connection import Connection, ConnectionState
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.exceptions import FailedToConnectError
from dbt.adapters.spark.connections import (
    SparkConnectionManager,
    SparkConnectionMethod,
    SparkCredentials,
)
from dbt.adapters.spark.session import Cursor, SessionConnectionWrapper

logger = AdapterLogger("SparkOss")

DEFAULT_CONNECT_PORT = 15002

# dbt names a node's connection after the node: a data test's starts with this.
DATA_TEST_PREFIX = "test."
# A statement that leaves its session's state as it found it: a query (after dbt's query
# comment). One character or comment per repetition: `\s+` inside `*` backtracks exponentially.
QUERY = re.compile(r"(?:\s|/\*.*?\*/|--[^\n]*)*(?:select|with)\b", re.IGNORECASE | re.DOTALL)

_udf_lock = threading.Lock()
_session_start_lock = threading.Lock()
_registered_sessions: dict[tuple[int, tuple[str, ...]], list[str]] = {}


@dataclass
class SparkOssCredentials(SparkCredentials):
    # Spark Connect URL used to run Python models when method is thrift/http (the Thrift server
    # and the Connect server must live in the same Spark application to share the catalog).
    connect_url: str | None = None
    # Modules whose register_all(spark) is called on session open (method: session only).
    python_udf_modules: list[str] = field(default_factory=lambda: ["python_udfs"])
    # Take $STATE/.dbt-session.lock before starting the embedded Spark (method: session only).
    session_lock: bool = True
    # Seconds between two status requests of a running statement (method: thrift/http). 0, not
    # dbt-spark's 5: the Thrift Server holds each request up to 5 s itself (README, Configure).
    poll_interval: int = 0

    @property
    def type(self) -> str:
        return "spark_oss"

    def _connection_keys(self) -> tuple[str, ...]:
        return (*super()._connection_keys(), "method", "connect_url", "python_udf_modules")

    def resolved_connect_url(self) -> str:
        """connect_url, else $SPARK_CONNECT_URL, else sc://<host>:15002."""
        if self.connect_url:
            return self.connect_url
        if os.environ.get("SPARK_CONNECT_URL"):
            return os.environ["SPARK_CONNECT_URL"]
        host = (self.host or "127.0.0.1").split("://")[-1].split("/")[0].split(":")[0]
        return f"sc://{host}:{DEFAULT_CONNECT_PORT}"


CONNECT_TOKEN_ENV = "SPARK_CONNECT_TOKEN"
_LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "::1")


def connect_url_with_token(url: str, token: str | None = None) -> str:
    """``url`` plus the Spark Connect token from ``$SPARK_CONNECT_TOKEN`` (``;token=...``).

    The token never goes into the profile (``dbt debug`` prints ``connect_url``). pyspark's
    client requires TLS whenever a token is set, except for the host name ``localhost`` (a
    loopback-only local channel), so a loopback IP is connected to as ``localhost``.
    """
    token = token if token is not None else os.environ.get(CONNECT_TOKEN_ENV, "").strip()
    if not token or ";token=" in url:
        return url
    scheme, _, rest = url.partition("://")
    hostport, _, params = rest.partition("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or host.count(":") > (2 if host.startswith("[") else 0):
        host, sep, port = hostport, "", ""  # no port, or a bare IPv6 address
    if host in _LOOPBACK_HOSTS:
        hostport = f"localhost{sep}{port}"
    params = params.lstrip(";")
    return f"{scheme}://{hostport}/;" + ";".join(p for p in (params, f"token={token}") if p)


def spark_session_for(credentials: SparkCredentials) -> Any:
    """The SparkSession that dbt-spark's session cursor uses (same builder, same options)."""
    from pyspark.sql import SparkSession

    # Spark's web UI (Jetty) binds $SPARK_LOCAL_IP, else 0.0.0.0, whatever the confs say:
    # set it (before the JVM starts) to the profile's driver bind address, default loopback.
    params = credentials.server_side_parameters
    os.environ.setdefault("SPARK_LOCAL_IP", params.get("spark.driver.bindAddress", "127.0.0.1"))
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in credentials.server_side_parameters.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def register_udf_modules(spark: Any, modules: list[str]) -> list[str]:
    """Import each module and call its ``register_all(spark)``; once per session and module list.

    Returns the registered function names (as reported by the modules).
    """
    key = (id(spark), tuple(modules))
    with _udf_lock:
        if key in _registered_sessions:
            return _registered_sessions[key]
        names: list[str] = []
        for module_name in modules:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise DbtRuntimeError(
                    f"python_udf_modules: cannot import '{module_name}' ({exc}). Install the "
                    "package into the environment dbt runs in, or fix the profile setting."
                ) from exc
            register_all = getattr(module, "register_all", None)
            if not callable(register_all):
                raise DbtRuntimeError(
                    f"python_udf_modules: module '{module_name}' has no register_all(spark)"
                )
            names.extend(register_all(spark) or [])
        logger.debug(f"Registered Python UDFs from {modules}: {names}")
        _registered_sessions[key] = names
        return names


def forget_udf_registrations(spark: Any) -> None:
    """Forgets what ``register_udf_modules`` did on ``spark``, before that session is stopped: a
    later session may get the same ``id`` and must be registered again."""
    with _udf_lock:
        for key in [key for key in _registered_sessions if key[0] == id(spark)]:
            del _registered_sessions[key]


def route_query_context_logs(log_file: str = os.path.join("logs", "spark.log")) -> None:
    """Send PySpark's query-error records to ``log_file`` instead of stderr.

    PySpark 4 logs every failed query as JSON with the whole JVM stack trace (loggers
    ``SQLQueryContextLogger`` and ``DataFrameQueryContextLogger``, about 14 KB for one missing
    table) through a stderr handler of its own. dbt already prints the error (model, message,
    compiled path), so the trace goes to the file the JVM logs to (conf/log4j2.properties).
    """
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        query_logger = PySparkLogger.getLogger(name)
        if any(getattr(handler, "_spark_oss_file", False) for handler in query_logger.handlers):
            continue
        for handler in list(query_logger.handlers):
            query_logger.removeHandler(handler)
        os.makedirs(os.path.dirname(log_file) or ".", exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8", delay=True)
        file_handler._spark_oss_file = True  # type: ignore[attr-defined]
        query_logger.addHandler(file_handler)  # keeps PySpark's JSON format
        query_logger.propagate = False


def ensure_session_ready(credentials: SparkCredentials) -> Any:
    """Lock the metastore, start (or get) the embedded SparkSession, register the Python UDFs.

    Called right before the first statement, not when dbt opens the connection: commands that
    open connections without running anything (compile, sqlfluff's dbt templater) neither start
    a JVM nor take the lock. One caller at a time: a statement arriving while
    ``start_session_early`` runs waits for it, and if that failed, raises its error for the rest
    of the command rather than trying (and waiting, e.g. up to a minute for the metastore lock)
    again for every statement.
    """
    with _session_start_lock:
        failure = _early_start_failure
        if failure is not None and failure.attempt == _attempt_key(credentials):
            raise failure.error
        return _session_ready(credentials)


class _EarlyStartFailure(NamedTuple):
    attempt: tuple[object, ...]  # this dbt invocation and the session's settings
    error: Exception


# What the last start_session_early failed with; its invocation's statements raise it.
_early_start_failure: _EarlyStartFailure | None = None


def _attempt_key(credentials: SparkCredentials) -> tuple[object, ...]:
    return (get_invocation_id(), *sorted(credentials.server_side_parameters.items()))


# The name of start_session_early's thread, in dbt's debug log.
SESSION_START_THREAD = "SparkStart"
# The last start_session_early's thread (wait_for_early_start).
_early_start: threading.Thread | None = None


def start_session_early(credentials: SparkCredentials) -> None:
    """Start the embedded session in a background thread while dbt is still parsing.

    The JVM, the metastore and the UDFs take about 6 s to come up, and a full parse takes about
    as long; the first statement then finds them ready (``ensure_session_ready`` waits for the
    thread, or raises what it failed with).
    """
    global _early_start
    _early_start = threading.Thread(
        target=_start_session, args=(credentials,), name=SESSION_START_THREAD, daemon=True
    )
    _early_start.start()


def wait_for_early_start(timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for the last ``start_session_early``; False if it is still
    starting. For a process that outlives its dbt command (the tests' warm runner): a command
    that failed early (a macro's error) may end while its session is still starting."""
    thread = _early_start
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _start_session(credentials: SparkCredentials) -> None:
    global _early_start_failure
    logger.debug("Starting the embedded Spark session while dbt parses")
    with _session_start_lock:
        _early_start_failure = None
        try:
            spark = _session_ready(credentials)
        except Exception as exc:
            _early_start_failure = _EarlyStartFailure(_attempt_key(credentials), exc)
            return
    try:
        # The Hive client and the Derby metastore start on the first catalog access. Only
        # now: the lock file already names this JVM, so a dbt that exits meanwhile (a parse
        # error) leaves a JVM the next holder knows to wait for.
        spark.sql("show databases").collect()
    except Exception as exc:  # the first statement meets it again and reports it
        logger.debug(f"Warming the metastore client failed: {exc}")


def _session_ready(credentials: SparkCredentials) -> Any:
    lock = None
    if getattr(credentials, "session_lock", True):
        try:
            lock = acquire_session_lock(credentials.server_side_parameters)
        except SessionLockedError as exc:
            raise FailedToConnectError(str(exc)) from None
    spark = spark_session_for(credentials)
    record_session_jvm(lock, spark)
    route_query_context_logs()
    modules = list(getattr(credentials, "python_udf_modules", None) or [])
    if modules:
        register_udf_modules(spark, modules)
    return spark


def _stopped(session: Any) -> bool:
    """A classic session whose SparkContext was stopped (a Connect session has no context)."""
    context = getattr(session, "_sc", None)
    return context is not None and context._jsc is None


class SparkOssSessionCursor(Cursor):
    """dbt-spark's session cursor, on the session its connection readied.

    dbt-spark's own cursor rebuilds the session from the profile before every statement: about
    3 ms of py4j calls for the profile's 20 settings, and it undoes a ``set`` of a profile
    setting made by the statement before (a model's pre-hook), which the Thrift Server keeps.
    """

    def __init__(self, session: Any) -> None:
        super().__init__()
        self._session = session

    def execute(self, sql: str, *parameters: Any) -> None:
        if parameters:
            sql = sql % parameters
        try:
            self._df = self._session.sql(sql)
        except AnalysisException as exc:
            raise DbtRuntimeError(str(exc)) from exc


def connection_session(spark: Any) -> Any:
    """A session of its own for one dbt connection: a copy of ``spark`` (its settings, the Python
    UDFs registered in it) on the same SparkContext, catalog and cache.

    As on the Thrift Server, which opens a Spark session per connection: a node's ``set`` (a
    pre-hook's) and its temporary views stay with its connection, so nodes that dbt's threads
    run side by side cannot change each other's settings.
    """
    from pyspark.sql import SparkSession

    # cloneSession() is private[sql] in Scala, public to the JVM; PySpark has no wrapper for it.
    return SparkSession(spark.sparkContext, spark._jsparkSession.cloneSession())


class SparkOssSessionConnectionWrapper(SessionConnectionWrapper):
    """dbt-spark's session wrapper, readying the embedded session (lock, profile settings, UDFs)
    at the connection's first statement, and giving the connection its own copy of it
    (``connection_session``). dbt opens a connection per node, so each node starts from the
    profile's settings (a Python model gets a copy of its own too: ``python_submissions``)."""

    def __init__(self, handle: Any, credentials: SparkCredentials) -> None:
        super().__init__(handle)
        self._credentials = credentials
        self._session: Any = None

    def cursor(self) -> SparkOssSessionConnectionWrapper:
        # A session stopped by a Python model is replaced, as dbt-spark's getOrCreate would.
        if self._session is None or _stopped(self._session):
            self._session = connection_session(ensure_session_ready(self._credentials))
        self._cursor = SparkOssSessionCursor(self._session)
        return self


class SparkOssConnectionManager(SparkConnectionManager):
    """dbt-spark's connection manager, with one change on a Thrift Server: a data test's session
    is kept for the next data test on the same thread.

    dbt closes a node's connection when the node ends, so every node runs on a session of its own
    (a Thrift Server's, or a copy of the embedded one): a model's `set` and temporary views stay
    its own. A data test whose statements were all queries, and all succeeded, left nothing in
    its session, so on ``method: thrift`` or ``http`` the next data test of its thread runs on it
    instead of opening one (about 37 ms each on a local server). Any other node closes it first,
    and a data test that ran anything else (a `set` of its ``meta.spark_settings``, a table of
    stored failures) or failed closes its own. Spark caches a table's relation per session, so a
    kept session could only read a stale one if a table it read were written again; a data test
    runs after the model of every table it reads, and a command builds each model once. The
    embedded target's copies of its session cost too little to gain from this (BENCHMARKS.md,
    stop 57).
    """

    TYPE = "spark_oss"
    KEEPS_DATA_TEST_SESSIONS = (SparkConnectionMethod.THRIFT, SparkConnectionMethod.HTTP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The threads whose connection has run anything but a successful query since it opened.
        self._threads_that_changed_their_session: set[Any] = set()

    def add_query(self, sql: str, *args: Any, **kwargs: Any) -> tuple[Connection, Any]:
        thread = self.get_thread_identifier()
        if not QUERY.match(sql):
            self._threads_that_changed_their_session.add(thread)
        try:
            return super().add_query(sql, *args, **kwargs)
        except BaseException:  # a lost or broken session is not passed on
            self._threads_that_changed_their_session.add(thread)
            raise

    def _kept_for_data_tests(self, connection: Connection | None) -> bool:
        return (
            connection is not None
            and connection.credentials.method in self.KEEPS_DATA_TEST_SESSIONS
            and connection.state == ConnectionState.OPEN
            and str(connection.name).startswith(DATA_TEST_PREFIX)
            and self.get_thread_identifier() not in self._threads_that_changed_their_session
        )

    def set_connection_name(self, name: str | None = None) -> Connection:
        kept = self.get_if_exists()
        if self._kept_for_data_tests(kept) and not str(name).startswith(DATA_TEST_PREFIX):
            self._close()
        return super().set_connection_name(name)

    def release(self) -> None:
        connection = self.get_if_exists()
        if not self._kept_for_data_tests(connection):
            self._close()
            return
        # The last statement's result goes (on the server, its operation). dbt-spark keeps the
        # cursor in the private `_cursor`; with none left, a cancel (Ctrl-C) skips the connection.
        cursor = connection.handle._cursor
        connection.handle._cursor = None
        try:
            if cursor is not None:
                cursor.close()
        except Exception:  # a session that cannot close a cursor is not passed on
            self._close()

    def _close(self) -> None:
        """dbt's release: closes the thread's connection, so its next node opens a session."""
        self._threads_that_changed_their_session.discard(self.get_thread_identifier())
        super().release()

    @classmethod
    def open(cls, connection: Connection) -> Connection:
        if connection.state == ConnectionState.OPEN:
            return connection
        connection = super().open(connection)
        creds = connection.credentials
        if creds.method == SparkConnectionMethod.SESSION:
            connection.handle = SparkOssSessionConnectionWrapper(connection.handle.handle, creds)
        return connection

    @classmethod
    def _close_handle(cls, connection: Connection) -> None:
        """Close the connection; a Thrift server's *error reply* to CloseSession is a warning.

        pyhive closes the socket before it checks the reply, so the session is gone either way
        (the server drops sessions whose client disconnected), and a statement's outcome was
        reported before its connection closed: failing the run there would turn finished work
        into an error. Stock Spark 4
        Thrift Servers send such replies now and then (``NoClassDefFoundError:
        LlapSigner$Signable``, see spark_analytics/cluster/hive_shim.py). Transport errors and
        every other failure still raise.
        """
        try:
            super()._close_handle(connection)
        except Exception as exc:
            if not _is_close_session_error_reply(exc):
                raise
            logger.warning(
                f"Connection '{connection.name}': the Thrift server answered CloseSession with an "
                f"error ({_server_error_line(exc)}); the client has already disconnected, and the "
                "server drops the session."
            )


def _is_close_session_error_reply(exc: Exception) -> bool:
    try:
        from pyhive.exc import OperationalError
        from TCLIService.ttypes import TCloseSessionResp
    except ImportError:  # session-only installs have no pyhive
        return False
    return isinstance(exc, OperationalError) and any(
        isinstance(arg, TCloseSessionResp) for arg in exc.args
    )


def _server_error_line(exc: Exception) -> str:
    """The first line of the server's error message in a pyhive reply (else of the exception)."""
    for arg in exc.args:
        message = getattr(getattr(arg, "status", None), "errorMessage", None)
        if message:
            return str(message).strip().splitlines()[0]
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
