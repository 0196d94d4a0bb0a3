"""Runs the repository's dbt project in isolation: its own metastore, warehouse, data and target
(or, for projects sharing one state, its own schemas, data folder and target).

Tables are read back as Parquet straight from the warehouse directory, so the test's own
SparkSession never opens the project's Derby metastore (which one process holds at a time).
What only the metastore knows (comments, views) is asked by `catalog`, in the project's warm
dbt runner (tests/python/warm_dbt.py), which holds the metastore.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from spark_analytics import warehouse
from tests.python import warm_dbt


def failure_report(
    command: Sequence[str], result: subprocess.CompletedProcess, jvm_log: Path | None = None
) -> str:
    """What a failed command printed, dbt's error summary first: a long build's last lines are
    mostly SKIP lines, and a truncated CI log must still show why it failed. ``jvm_log``: where
    a warm runner's JVM wrote (tests/python/warm_dbt.py), not to the command's stderr."""
    lines = result.stdout.splitlines()
    # "Completed with N errors" after a run; "Encountered an error" when dbt itself stopped.
    markers = ("Completed with", "Encountered an error")
    start = next((i for i, line in enumerate(lines) if any(m in line for m in markers)), len(lines))
    summary = "\n".join(lines[start:])[:6000]
    before = "\n".join(line for line in lines[:start][-80:] if " SKIP " not in line)[-4000:]
    jvm = ""
    if jvm_log is not None and jvm_log.exists():
        jvm = f"\n--- {jvm_log} (end) ---\n{jvm_log.read_text(errors='replace')[-3000:]}"
    return (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"--- dbt's error summary ---\n{summary}\n--- stdout before it ---\n{before}\n"
        f"--- stderr ---\n{result.stderr[-3000:]}{jvm}"
    )


REPO_ROOT = Path(__file__).resolve().parents[2]
IN_ENV = REPO_ROOT / "scripts" / "in_env.sh"
# The generated dataset the project-level suites share (small: CI has 2 cores).
ROWS = 20_000
SEED = 7
# Spark settings (spark_analytics.settings env vars) of every test session and dbt run.
TEST_SPARK_ENV = {"SPARK_SHUFFLE_PARTITIONS": "4", "SPARK_DRIVER_MEMORY": "2g"}
# The schemas the project builds into: DBT_SCHEMA plus each folder's +schema (dbt_project.yml).
SCHEMA = "analytics"
REFERENCE = f"{SCHEMA}_reference"
STAGING = f"{SCHEMA}_staging"
INTERMEDIATE = f"{SCHEMA}_intermediate"
QUARANTINE = f"{SCHEMA}_quarantine"
MARTS = f"{SCHEMA}_marts"
ML = f"{SCHEMA}_ml"
# `DbtProject.catalog`: runs SQL statements on the project's metastore, prints their rows as JSON.
_CATALOG_QUERY = """
import json, sys
from pyspark.sql import SparkSession
from spark_analytics.session import build_session
# In a warm runner (tests/python/warm_dbt.py), its session as it is: dbt's profile made it (a
# runner that ran only commands without statements, e.g. `dbt parse`, has none yet).
spark = SparkSession._instantiatedSession or build_session("tests-catalog")
rows = [[r.asDict() for r in spark.sql(statement).collect()] for statement in sys.argv[1:]]
print(json.dumps(rows, default=str))
"""
# Set in os.environ by PySpark when the test process opens a Spark Connect session (a cluster
# suite's): they switch it, and every process it starts, to Connect mode. Left out of a
# project's environment (the embedded target's classic Spark) and removed after those suites.
CONNECT_MODE_VARIABLES = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")
# The stream ingest's own bronze and quarantine tables (written by Python, not by dbt).
EVENTS = "events"
# Where a test run keeps the repository project's parse (conftest.py sets it): a new target
# folder starts from it, and dbt re-parses only the files whose inputs differ (the sources'
# env_var() paths) instead of the whole project.
PARSE_SEED_ENV = "TEST_DBT_PARSE_SEED"
# The shared build's manifest (conftest.py `clean_project`), kept beside its target folder.
BUILD_MANIFEST = "build_manifest.json"
# The dbt project's own files: what a copy needs to build (no data, no state, no Python suites).
PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "python_udfs",
    "tests/generic",
)


def copy_of_project(root: Path) -> Path:
    """The repository's dbt project copied to ``root / "project"``, for a test to edit."""
    copy = root / "project"
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name)
        else:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def replace_once(path: Path, old: str, new: str) -> None:
    """``old`` (which must be there) replaced by ``new`` in a file of a project copy."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@dataclass(frozen=True)
class DbtProject:
    """A dbt project (default: the repository's) run with every piece of state under ``workdir``.

    ``project_dir`` holds the project's dbt_project.yml and profiles.yml (e.g. the adapter
    suite's fixture project).
    """

    workdir: Path
    extra_env: tuple[tuple[str, str], ...] = ()
    project_dir: Path = REPO_ROOT
    # dbt commands in one long-lived process per project (tests/python/warm_dbt.py); False:
    # a `dbt` process per command, for what only a real process shows.
    warm: bool = True
    # The folder under ``workdir`` the sources read (DATA_DIR): projects sharing one workdir
    # (one metastore, one warm runner) can each have their own data.
    data_folder: str = "data"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "spark"

    @property
    def data_dir(self) -> Path:
        return self.workdir / self.data_folder

    @property
    def generated_dir(self) -> Path:
        return self.data_dir / "generated"

    def env(self, *, opens_metastore: bool = True) -> dict[str, str]:
        """The environment of a process on this project. A process that opens the metastore
        (the default) needs the warm dbt runner stopped first; one that does not (e.g. `dbt docs
        serve`, the generator) leaves it running for the next dbt command."""
        if opens_metastore:
            warm_dbt.stop(self.state_dir)
        return self._env()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in CONNECT_MODE_VARIABLES}
        env.update(
            SPARK_STATE_DIR=str(self.state_dir),
            DATA_DIR=str(self.data_dir),
            DBT_TARGET_PATH=str(self.workdir / "target"),
            DBT_LOG_PATH=str(self.workdir / "logs"),
            DBT_PROJECT_DIR=str(self.project_dir),
            DBT_PROFILES_DIR=str(self.project_dir),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_USE_COLORS="false",
        )
        env.update(TEST_SPARK_ENV)
        env.update(dict(self.extra_env))
        return env

    def run(
        self,
        *command: str,
        check: bool = True,
        timeout: float | None = None,
        opens_metastore: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Runs a command through scripts/in_env.sh; on failure shows its output. A command that
        does not open the project's metastore (``opens_metastore=False``) leaves the warm runner
        running, so the next dbt command does not start a JVM again."""
        result = subprocess.run(
            [str(IN_ENV), *command],
            cwd=self.project_dir,
            env=self.env(opens_metastore=opens_metastore),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(failure_report(command, result))
        return result

    def dbt(
        self, *args: str, dbt_vars: dict[str, object] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``dbt <args>``: in the project's warm runner, or with ``warm=False`` a process of
        its own; the same result either way (exit code, stdout, stderr without the JVM's)."""
        command = ["dbt", *args]
        if dbt_vars:
            command += ["--vars", json.dumps(dbt_vars)]
        fresh = self._start_from_seeded_parse()
        if self.warm:
            result = self._in_runner(warm_dbt.run, command[1:], check=check)
        else:
            result = self.run(*command, check=check)
        self._keep_parse_as_seed(command, result, fresh)
        return result

    def python(
        self, *argv: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -m module ...`` or ``python -c code ...`` of a program that opens the
        project's metastore: in the warm runner (its SparkSession, a JVM start saved), or with
        ``warm=False`` a process of its own; the same result either way."""
        if not self.warm:
            return self.run(sys.executable, *argv, check=check, timeout=timeout)
        return self._in_runner(
            functools.partial(warm_dbt.run_python, timeout=timeout), list(argv), check=check
        )

    def _in_runner(
        self,
        send: Callable[..., subprocess.CompletedProcess[str]],
        args: list[str],
        *,
        check: bool,
    ) -> subprocess.CompletedProcess[str]:
        """A request to the project's warm runner (``warm_dbt.run`` or ``run_python``); on
        failure shows its output and the end of the runner's JVM log."""
        env = self._env()
        result = send(
            args,
            state_dir=self.state_dir,
            env=env,
            cwd=self.project_dir,
            workdir=self.workdir,
            in_env=IN_ENV,
        )
        if check and result.returncode != 0:
            jvm_log = Path(env["DBT_LOG_PATH"]) / warm_dbt.JVM_LOG_NAME  # where the runner logs
            raise AssertionError(failure_report(result.args, result, jvm_log))
        return result

    def _parse_files(self) -> tuple[Path, Path] | None:
        """(the run's seed, this project's partial parse file), for the repository project."""
        seed = os.environ.get(PARSE_SEED_ENV)
        if not seed or self.project_dir != REPO_ROOT:
            return None
        return Path(seed), Path(self._env()["DBT_TARGET_PATH"]) / "partial_parse.msgpack"

    def _start_from_seeded_parse(self) -> bool:
        """Seeds a target folder that has no parse yet; True if it had none."""
        files = self._parse_files()
        if not files or files[1].exists():
            return False
        if files[0].exists():
            files[1].parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(*files)
        return True

    def _keep_parse_as_seed(
        self, command: Sequence[str], result: subprocess.CompletedProcess[str], fresh: bool
    ) -> None:
        """The run's first successful parse of the project from scratch, without --vars (dbt
        parses in full when vars differ)."""
        files = self._parse_files()
        if not files or not fresh or files[0].exists() or not files[1].exists():
            return
        if result.returncode != 0 or any(arg.startswith("--vars") for arg in command):
            return
        partial = files[0].with_name(f"{files[0].name}.{os.getpid()}")
        shutil.copyfile(files[1], partial)
        partial.replace(files[0])  # atomic: a worker copying it meanwhile reads a whole file

    def generate(self, *args: str) -> dict[str, object]:
        """Generates data with spark_analytics.datagen (files only) and returns its manifest."""
        self.run(
            sys.executable,
            "-m",
            "spark_analytics.datagen",
            "--out",
            str(self.generated_dir),
            *args,
            opens_metastore=False,
        )
        return json.loads((self.generated_dir / "manifest.json").read_text())

    def in_schema(
        self, schema: str, *, target: Path | None = None, data_folder: str | None = None
    ) -> DbtProject:
        """The same state (metastore, warehouse, warm runner) with dbt building into
        ``<schema>_*`` (DBT_SCHEMA), from a target folder of its own (default
        ``<workdir>/<schema>_target``: its own parse and results) and, if given, another data
        folder: a build in one schema leaves the others' tables as they are."""
        env = dict(self.extra_env)
        env["DBT_SCHEMA"] = schema
        env["DBT_TARGET_PATH"] = str(target or self.workdir / f"{schema}_target")
        return replace(
            self, extra_env=tuple(env.items()), data_folder=data_folder or self.data_folder
        )

    def schema(self, folder: str) -> str:
        """The schema a folder's models build into: DBT_SCHEMA (the profile's default: SCHEMA)
        and the folder's +schema (dbt_project.yml), e.g. ``schema("marts")``."""
        return f"{self._env().get('DBT_SCHEMA', SCHEMA)}_{folder}"

    def table_path(self, schema: str, table: str) -> Path:
        return warehouse.table_path(self.state_dir / "warehouse", schema, table)

    def read_table(self, spark: SparkSession, schema: str, table: str) -> DataFrame:
        return spark.read.parquet(str(self.table_path(schema, table)))

    def catalog(self, *statements: str, own_process: bool = False) -> list[list[dict[str, object]]]:
        """The rows of each statement, run by a Spark session on this project's metastore: the
        running warm runner's (the session its dbt commands made), else (or ``own_process``, or
        ``warm=False``) a new process's."""
        if own_process or warm_dbt.runner_pid(self.state_dir) is None:
            done = self.run(sys.executable, "-c", _CATALOG_QUERY, *statements)
        else:
            done = self.python("-c", _CATALOG_QUERY, *statements)
        return json.loads(done.stdout.strip().splitlines()[-1])
