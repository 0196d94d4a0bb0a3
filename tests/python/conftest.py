"""Shared pytest fixtures: one local SparkSession per test run, isolated from the project state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.python.dbt_project import ROWS, SEED, DbtProject

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")
    parser.addoption("--runcluster", action="store_true", help="run tests marked cluster")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, option in (("slow", "--runslow"), ("cluster", "--runcluster")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"needs {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Classic local Spark, even if an earlier suite opened a Spark Connect session.
    for variable in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE"):
        os.environ.pop(variable, None)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("pytest")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def clean_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The whole project built once with `dbt build` (tests included) on generated data."""
    project = DbtProject(tmp_path_factory.mktemp("clean_project"))
    project.generate("--rows", str(ROWS), "--seed", str(SEED))
    project.dbt("build")
    return project
