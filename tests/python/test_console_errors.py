"""A failing SQL model: dbt's own error on the console, Spark's stack traces only in logs/spark.log.

PySpark 4 logs every failed query as a JSON record with the whole JVM stack trace (logger
``SQLQueryContextLogger``, about 14 KB for one missing table) on stderr; the JVM logs through
log4j (conf/log4j2.properties, SPARK_CONF_DIR=conf). Both go to ``logs/spark.log`` under the
working directory; the console keeps dbt's message: model, Spark's error, compiled path.
"""

from __future__ import annotations

from pathlib import Path

from tests.python.dbt_project import DbtProject
from tests.python.profiles import session_profile

PROJECT = """
name: console_errors
version: "1.0"
config-version: 2
profile: console_errors
model-paths: ["models"]
"""


MODEL = "select * from no_such_schema.no_such_table\n"


def test_failing_model_prints_dbt_error_and_logs_the_stack_trace(tmp_path: Path):
    project_dir = tmp_path / "project"
    (project_dir / "models").mkdir(parents=True)
    (project_dir / "dbt_project.yml").write_text(PROJECT)
    (project_dir / "profiles.yml").write_text(session_profile("console_errors"))
    (project_dir / "models" / "reads_missing_table.sql").write_text(MODEL)
    # A `dbt` process of its own: what its console shows is the point.
    project = DbtProject(tmp_path / "state", project_dir=project_dir, warm=False)

    result = project.dbt("run", check=False)

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    console = result.stdout + result.stderr
    # dbt's own error: the model, Spark's message and the compiled path.
    assert "reads_missing_table" in result.stdout
    assert "TABLE_OR_VIEW_NOT_FOUND" in result.stdout
    assert "compiled code at" in result.stdout
    # No JSON stack trace (PySpark's SQLQueryContextLogger) nor a JVM trace on the console.
    assert "SQLQueryContextLogger" not in console
    assert '"stacktrace"' not in console
    assert "\tat org.apache.spark" not in console
    assert len(result.stderr) < 2_000, result.stderr[:3000]
    # ... they are in logs/spark.log under the working directory.
    spark_log = project_dir / "logs" / "spark.log"
    assert spark_log.exists()
    logged = spark_log.read_text(errors="replace")
    assert "SQLQueryContextLogger" in logged
    assert "TABLE_OR_VIEW_NOT_FOUND" in logged
    assert '"stacktrace"' in logged
