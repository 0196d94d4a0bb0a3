"""The spark_oss adapter: dbt-spark's SparkAdapter plus Python models on open-source Spark."""

from __future__ import annotations

import builtins
import contextlib
import difflib
import os
import re
import signal
import threading
from importlib import import_module
from typing import Any

from dbt_common.contracts.constraints import ConstraintType
from dbt_common.exceptions import CompilationError, DbtRuntimeError
from dbt_common.invocation import get_invocation_id

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.base.impl import ConstraintSupport
from dbt.adapters.base.meta import available
from dbt.adapters.base.relation import AdapterTrackingRelationInfo, BaseRelation, InformationSchema
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.spark.connections import SparkConnectionMethod
from dbt.adapters.spark.impl import (
    GET_COLUMNS_IN_RELATION_RAW_MACRO_NAME,
    SCHEMA_NOT_FOUND_MESSAGES,
    TABLE_OR_VIEW_NOT_FOUND_MESSAGES,
    SparkAdapter,
)
from dbt.adapters.spark_oss.connections import SparkOssConnectionManager, start_session_early
from dbt.adapters.spark_oss.python_submissions import (
    SparkOssPythonJobHelper,
    close_connect_sessions,
)
from dbt.flags import get_flags

SESSION_SUBMISSION = "session"
# The root project's own check of a command's --vars, run before dbt fills its relation cache.
CHECK_VARS_MACRO = "check_cli_var_names"
FAULT_POINT_ENV = "SPARK_OSS_FAULT_POINT"
logger = AdapterLogger("SparkOss")
# Facts this dbt invocation has already asked the metastore for (a schema created, its location,
# its tables), so each build does not ask again. Kept per invocation id: a long-lived process
# (the tests' warm runner) asks afresh in its next command. dbt's model threads share it.
_invocation_facts: tuple[str, dict[str, str]] = ("", {})
_invocation_facts_lock = threading.Lock()
# dbt-spark's: a schema listed while it does not exist has no relations.
NOT_FOUND_MESSAGES = SCHEMA_NOT_FOUND_MESSAGES + TABLE_OR_VIEW_NOT_FOUND_MESSAGES
# While set, a temporary view created in SQL keeps its analysed plan, not only its text.
KEEP_ANALYSED_PLANS = "spark.sql.legacy.storeAnalyzedPlanForView"


# The dbt commands that run statements (dbt's flags.WHICH; `dbt retry` carries the retried
# command's): on the embedded target they start the session while dbt parses. Others (parse,
# compile, ls, debug, sqlfluff's templater) start no JVM unless a statement needs one.
COMMANDS_THAT_QUERY = frozenset(
    {
        "build",
        "run",
        "test",
        "seed",
        "snapshot",
        "run-operation",
        "show",
        "generate",
        "clone",
        "freshness",
    }
)


class SparkOssAdapter(SparkAdapter):
    ConnectionManager = SparkOssConnectionManager
    # macros/constraints.sql enforces these on every file format (a violating build is not
    # published); dbt uses this to treat their removal as a breaking contract change.
    CONSTRAINT_SUPPORT = {
        **SparkAdapter.CONSTRAINT_SUPPORT,
        ConstraintType.check: ConstraintSupport.ENFORCED,
        ConstraintType.not_null: ConstraintSupport.ENFORCED,
    }

    def __init__(self, config: Any, mp_context: Any) -> None:
        super().__init__(config, mp_context)
        credentials = config.credentials
        if (
            credentials.method == SparkConnectionMethod.SESSION
            and getattr(get_flags(), "WHICH", None) in COMMANDS_THAT_QUERY
        ):
            start_session_early(credentials)

    @classmethod
    def type(cls) -> str:
        return "spark_oss"

    def cleanup_connections(self) -> None:
        """dbt's end of an invocation: the SQL connections, then the Python models' Spark
        Connect sessions (``close_connect_sessions``)."""
        super().cleanup_connections()
        close_connect_sessions()

    @classmethod
    def get_adapter_run_info(cls, config: Any) -> AdapterTrackingRelationInfo:
        # The base class derives the module from the class name ("sparkoss"): name it here.
        return AdapterTrackingRelationInfo(
            adapter_name="spark_oss",
            base_adapter_version=import_module("dbt.adapters.__about__").version,
            adapter_version=import_module("dbt.adapters.spark_oss.__version__").version,
            model_adapter_details=cls._get_adapter_specific_run_info(config),
        )

    @property
    def default_python_submission_method(self) -> str:
        return SESSION_SUBMISSION

    @property
    def python_submission_helpers(self) -> dict[str, builtins.type[PythonJobHelper]]:
        # Databricks helpers are dropped on purpose: they need a Databricks workspace.
        return {SESSION_SUBMISSION: SparkOssPythonJobHelper}

    def set_relations_cache(
        self,
        relation_configs: Any,
        clear: bool = False,
        required_schemas: Any = None,
    ) -> None:
        """dbt fills its relation cache before any node, in commands with hooks or without (the
        adapter's README lists them). First, a command given ``--vars`` runs the root project's
        macro ``CHECK_VARS_MACRO`` if it defines one (this repository's refuses a var name the
        project does not read: macros/validate_inputs.sql), so that a misspelled var stops the
        command rather than being ignored. Without ``--vars`` there is nothing to check, and no
        macro context is built."""
        resolver = self.get_macro_resolver()
        project = self.config.project_name
        if (
            self.config.cli_vars
            and resolver
            and resolver.find_macro_by_name(CHECK_VARS_MACRO, project, project)
        ):
            self.execute_macro(CHECK_VARS_MACRO, project=project)
        super().set_relations_cache(relation_configs, clear, required_schemas)

    def list_relations_without_caching(self, schema_relation: BaseRelation) -> list[BaseRelation]:
        """The relations of a schema, for dbt's relation cache.

        dbt-spark lists a schema with ``show table extended``, which loads every relation's
        metadata, at the start of every command (BENCHMARKS.md, stop 59). A schema of views
        (every model this adapter publishes on plain files is one) is listed from ``show
        tables`` and ``show views`` instead: the cache needs a name and a kind, and a view's
        ``information`` is only its kind. A schema that holds a table (a model on delta, iceberg
        or hudi, whose provider the cache keeps as ``is_delta``...), or that these statements
        cannot list, gets dbt-spark's listing. Either way temporary views are left out: Spark
        lists them in every schema, with no namespace. The catalog keeps dbt-spark's listing
        (``_get_one_catalog``): its rows carry every relation's columns.
        """
        kwargs = {"schema_relation": schema_relation}
        try:
            tables = self.execute_macro("list_relations_show_tables_without_caching", kwargs=kwargs)
            views = self.execute_macro("spark_oss_list_views_without_caching", kwargs=kwargs)
        except DbtRuntimeError as error:
            if any(known in getattr(error, "msg", "") for known in NOT_FOUND_MESSAGES):
                return []
            return self._listed_in_full(schema_relation)
        view_names = {row[1].lower() for row in views if not row[2]}
        listed = [(row[0], row[1], "Type: VIEW\n") for row in tables if not row[2]]
        if any(name.lower() not in view_names for _, name, _ in listed):
            return self._listed_in_full(schema_relation)
        return self._build_spark_relation_list(row_list=listed, relation_info_func=lambda row: row)

    def _listed_in_full(self, schema_relation: BaseRelation) -> list[BaseRelation]:
        """dbt-spark's listing (``show table extended``), without temporary views."""
        listed = SparkAdapter.list_relations_without_caching(self, schema_relation)
        return [relation for relation in listed if relation.schema]

    def _get_one_catalog(
        self, information_schema: InformationSchema, schemas: set[str], used_schemas: Any
    ) -> Any:
        """dbt-spark's catalog of one schema, listed with ``show table extended``, whose rows
        carry every relation's columns (the relation cache's listing has none), plus the
        relations' comments (``_with_comments``)."""
        if len(schemas) != 1:
            raise CompilationError(f"Expected only one schema in _get_one_catalog, found {schemas}")
        listing = self.Relation.create(database=information_schema.database, schema=[*schemas][0])
        columns: list[dict[str, Any]] = []
        for relation in self._listed_in_full(listing):
            logger.debug(f"Getting table schema for relation {relation}")
            rows = list(self._get_columns_for_catalog(relation))
            columns.extend(self._with_comments(relation, rows))
        import agate
        from dbt_common.clients.agate_helper import build_type_tester

        # Comments stay text, even where every one of a schema looks like a number or a bool.
        types = build_type_tester(["table_comment", "column_comment"])
        return agate.Table.from_object(columns, column_types=types)

    def _with_comments(
        self, relation: BaseRelation, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``rows`` (one relation's catalog rows) with its table and column comments, which
        dbt-spark leaves out: ``show table extended`` prints the schema without them. They are
        what persist_docs wrote (the published views carry them too), read with one ``describe
        table extended``: the docs site and ``catalog.json`` show what ``describe`` shows."""
        try:
            described = self.execute_macro(
                GET_COLUMNS_IN_RELATION_RAW_MACRO_NAME, kwargs={"relation": relation}
            )
        except DbtRuntimeError as error:
            # Dropped since it was listed, or not describable: its columns, without comments,
            # rather than no catalog for its schema (get_catalog drops a schema that raises).
            logger.debug(f"No comments for the catalog entry {relation}: {error.msg}")
            return rows
        parts = described_parts(described)
        comments = {name.lower(): comment for name, comment in parts["columns"].items()}
        for row in rows:
            row["table_comment"] = parts["details"].get("Comment") or None
            row["column_comment"] = comments.get(str(row["column_name"]).lower())
        return rows

    @available
    def spark_oss_create_keeping_plan(self, sql: str) -> Any:
        """Runs ``sql``, the ``create`` of a temporary view, with Spark keeping the view's
        analysed plan (``spark_oss_query_view``, persist_docs.sql), and resets that setting
        afterwards, also when the create fails."""
        self.execute(f"set {KEEP_ANALYSED_PLANS} = true")
        try:
            response, _ = self.execute(sql)
        except BaseException:
            with contextlib.suppress(Exception):  # the create's error is the one to report
                self.execute(f"reset {KEEP_ANALYSED_PLANS}")
            raise
        self.execute(f"reset {KEEP_ANALYSED_PLANS}")
        return response

    @available
    def spark_oss_remove_orphan_versions(
        self, location: str, name: str, catalog_versions: list[str]
    ) -> list[str]:
        """Delete ``<location>/<name>__v<id>`` directories that no catalog table owns.

        Those are what a build killed in the middle of its write leaves (the catalog entry of a
        managed CTAS is created after its files). Only on the embedded target, where the dbt
        process has Spark's Hadoop FileSystem at hand; returns the deleted paths.
        """
        if self.config.credentials.method != SparkConnectionMethod.SESSION:
            return []
        from pyspark.sql import SparkSession

        if not location:
            return []
        # The session dbt-spark's cursor uses (getActiveSession() is per thread: None in dbt's
        # model threads).
        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        jvm = spark.sparkContext._jvm
        root = jvm.org.apache.hadoop.fs.Path(location)
        fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        if not fs.exists(root):
            return []
        owned = {version.lower() for version in catalog_versions}
        pattern = re.compile(rf"^{re.escape(name.lower())}__v\d{{20}}$")
        deleted = []
        for status in fs.listStatus(root):
            directory = status.getPath().getName()
            if status.isDirectory() and pattern.match(directory) and directory not in owned:
                fs.delete(status.getPath(), True)
                deleted.append(str(status.getPath()))
        if deleted:
            logger.info(f"Removed directories of killed builds: {deleted}")
        return deleted

    @available
    def spark_oss_execute_unless(self, sql: str, marker: str) -> tuple[Any, str | None]:
        """Runs ``sql`` as dbt's ``statement`` does: ``(its response, None)``, or ``(None, the
        error's text)`` when Spark's ``raise_error`` stopped it with a message that starts with
        ``marker`` (a checked create, constraints.sql). Any other failure raises as usual."""
        try:
            response, _ = self.execute(sql)
        # dbt-spark re-raises a PySpark error as it is (its args are empty), a Thrift error as
        # DbtRuntimeError; both carry Spark's message.
        except Exception as error:
            if f"[USER_RAISED_EXCEPTION] {marker}" not in str(error):
                raise
            logger.debug(f"{marker}: the statement failed on a row that breaks the contract")
            return None, str(error)
        return response, None

    @available
    def spark_oss_described(self, rows: Any) -> dict[str, dict[str, Any]]:
        """``described_parts`` for the macros (persist_docs.sql, publish.sql)."""
        return described_parts(rows)

    @available
    def spark_oss_project_var_names(self) -> list[str]:
        """The vars the root project's dbt_project.yml sets under ``vars:`` (global, or scoped
        to the project), without those a command's ``--vars`` adds: Jinja's ``var`` merges
        both."""
        declared = self.config.vars.to_dict()
        project = self.config.project_name
        scoped = declared.get(project)
        names = set(declared)
        if isinstance(scoped, dict):
            names = (names - {project}) | set(scoped)
        return sorted(names)

    @available
    def spark_oss_closest_name(self, name: str, candidates: list[str]) -> str | None:
        """The candidate most like ``name`` (a misspelling's likely intent), if any is close,
        case aside. The cutoff, 0.75 of difflib's similarity, takes one or two letters wrong in
        a name of ten or more (``high_value_treshold``, ``source_mapping``), not a different
        word."""
        by_lower = {candidate.lower(): candidate for candidate in candidates}
        matches = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
        return by_lower[matches[0]] if matches else None

    @available
    def spark_oss_recall(self, fact: str) -> str | None:
        """What ``spark_oss_remember`` stored under ``fact`` in this invocation, else None."""
        invocation, facts = _invocation_facts
        return facts.get(fact) if invocation == get_invocation_id() else None

    @available
    def spark_oss_remember(self, fact: str, value: str) -> str:
        """Stores ``value`` under ``fact`` for the rest of this invocation (an earlier
        invocation's facts are dropped)."""
        global _invocation_facts
        with _invocation_facts_lock:
            invocation = get_invocation_id()
            if _invocation_facts[0] != invocation:
                _invocation_facts = (invocation, {})
            _invocation_facts[1][fact] = value
        return ""

    @available
    def spark_oss_fault_point(self, point: str, node_id: str = "") -> str:
        """Kill this process at ``point`` when ``SPARK_OSS_FAULT_POINT`` names it (fault suite).

        ``SPARK_OSS_FAULT_POINT=<point>`` or ``<point>:<model name>``; unset (always, outside the
        fault suite) this does nothing. SIGKILL, not an exception: no handler, no clean-up runs,
        exactly like ``kill -9`` or a lost machine.
        """
        wanted = os.environ.get(FAULT_POINT_ENV, "")
        if wanted and wanted in (point, f"{point}:{node_id.rsplit('.', 1)[-1]}"):
            logger.info(f"{FAULT_POINT_ENV}={wanted}: killing dbt (pid {os.getpid()})")
            os.kill(os.getpid(), signal.SIGKILL)
        return ""


def described_parts(rows: Any) -> dict[str, dict[str, Any]]:
    """The parts of ``describe table [extended]``'s rows (col_name, data_type, comment), the one
    reader of that layout: ``columns``, {name: comment or None} in table order, and ``details``,
    the ``# Detailed Table Information`` rows as {key: value} (``Comment``, ``View Text``...;
    empty without ``extended``).

    The columns come first, up to a blank or ``#`` row; partition information follows, then the
    details. A column named like a detail (``Comment``) stays a column."""
    columns: dict[str, Any] = {}
    details: dict[str, Any] = {}
    section = "columns"
    for col_name, data_type, comment in ((row[0], row[1], row[2]) for row in rows):
        name = (col_name or "").strip()
        if section == "columns" and (not name or name.startswith("#")):
            section = "after the columns"
        if name == "# Detailed Table Information":
            section = "details"
        elif section == "columns":
            columns[col_name] = comment or None
        elif section == "details" and name:
            details[name] = data_type
    return {"columns": columns, "details": details}
