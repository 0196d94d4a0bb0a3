"""Shared pytest fixtures: one local SparkSession per test run, isolated from the project state."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from spark_analytics.settings import LOOPBACK, session_conf
from tests.python.dbt_project import (
    BUILD_MANIFEST,
    CONNECT_MODE_VARIABLES,
    PARSE_SEED_ENV,
    ROWS,
    SEED,
    TEST_SPARK_ENV,
    DbtProject,
)
from tests.python.group_durations import SHARED_PROJECT, longest_first, read_durations

# Prints the table of what the fault suites checked (make faults).
pytest_plugins = ["tests.python.fault_table"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")
    parser.addoption("--runcluster", action="store_true", help="run tests marked cluster")


# pytest-xdist (`make test` runs `-n 2 --dist loadgroup`): a group runs on one worker, in order.
# Each file is a group, so a module fixture is built once; every file that uses the session's
# `clean_project` joins one group (SHARED_PROJECT), so that project is built once too.
@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shared = {item.path for item in items if SHARED_PROJECT in getattr(item, "fixturenames", ())}
    groups: dict[str, str] = {}
    for item in items:
        groups[item.nodeid] = SHARED_PROJECT if item.path in shared else item.path.name
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    # Longest groups first (tests/python/group_durations.py; xdist keeps this order with
    # --no-loadscope-reorder, pyproject.toml).
    items[:] = longest_first(items, lambda item: groups[item.nodeid], read_durations())
    for marker, option in (("slow", "--runslow"), ("cluster", "--runcluster")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"needs {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def parse_seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One place per test run (shared by the xdist workers) for the project's parse."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' basetemps are folders of the run's
    os.environ[PARSE_SEED_ENV] = str(root / "partial_parse.msgpack")
    yield
    os.environ.pop(PARSE_SEED_ENV, None)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """Classic local Spark with the project's settings (spark_analytics.settings), no metastore."""
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    # Classic local Spark, even if an earlier suite opened a Spark Connect session.
    for variable in CONNECT_MODE_VARIABLES:
        os.environ.pop(variable, None)
    env = {**os.environ, **TEST_SPARK_ENV, "SPARK_MASTER": "local[2]", "SPARK_UI_ENABLED": "false"}
    builder = SparkSession.builder
    for key, value in session_conf(env, app_name="pytest").items():
        builder = builder.config(key, value)
    session = builder.config("spark.sql.warehouse.dir", str(warehouse)).getOrCreate()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def clean_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The whole project built once with `dbt build` (tests included) on generated data."""
    project = DbtProject(tmp_path_factory.mktemp("clean_project"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED))
    project.dbt("build")
    # Later commands (ls, parse, show...) rewrite target/manifest.json: the build's, with every
    # model's compiled SQL, is kept for the suites that read it.
    shutil.copy2(project.workdir / "target" / "manifest.json", project.workdir / BUILD_MANIFEST)
    return project
