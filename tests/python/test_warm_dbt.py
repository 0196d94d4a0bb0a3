"""The suites' warm dbt runner (tests/python/warm_dbt.py) answers like a `dbt` process would:
the same exit codes and messages, files that change between commands are seen (data files and
macros), another process can open the metastore between two commands, and a failure leaves it
usable; one runner serves a project from test to test, and a changed environment gets a new
one (but for the schema, target and data folders, set per command, and what the test process's
own SparkContext sets). Python programs it runs answer like a process too: arguments, exit status,
errors, and nothing left behind for the next one; one that stops the session ends the runner."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.python import warm_dbt
from tests.python.dbt_project import DbtProject
from tests.python.profiles import session_profile

PROJECT = """
name: warm_runner
version: "1.0"
config-version: 2
profile: warm_runner
model-paths: ["models"]
macro-paths: ["macros"]
"""

# A table over a folder of files, as the project's sources are: a session caches its listing.
REGISTER = """
{% macro register_files(path) %}
    {% do run_query("create table if not exists files (n int) using csv location '" ~ path ~ "'") %}
    {{ log('rows: ' ~ run_query('select count(*) from files').columns[0].values()[0], info=True) }}
{% endmacro %}
"""
# dbt keeps the last command's selection in a module; run-operation selects nothing.
SELECTION = """
{% macro log_selection() %}
    {{ log('selected: ' ~ (selected_resources | length), info=True) }}
{% endmacro %}
"""
# Ends a command at once, while the session that run-operation starts (while dbt parses) starts.
FAIL_AT_ONCE = """
{% macro fail_at_once() %}
    {{ exceptions.raise_compiler_error('failed on purpose') }}
{% endmacro %}
"""
# A top-level tag outside any macro: dbt warns (D023) whenever it parses the file.
STRAY_BLOCK = """{% set stray = 1 %}
"""
COMMAND_VARIABLES = """
{% macro log_command_variables() %}
    {{ log('DBT_SCHEMA: ' ~ env_var('DBT_SCHEMA', 'unset'), info=True) }}
    {{ log('DATA_DIR: ' ~ env_var('DATA_DIR', 'unset').split('/')[-1], info=True) }}
{% endmacro %}
"""


def _project(root: Path, *, warm: bool) -> DbtProject:
    project_dir = root / "project"
    (project_dir / "models").mkdir(parents=True)
    (project_dir / "macros").mkdir()
    (project_dir / "macros" / "register_files.sql").write_text(REGISTER)
    (project_dir / "macros" / "log_selection.sql").write_text(SELECTION)
    (project_dir / "macros" / "log_command_variables.sql").write_text(COMMAND_VARIABLES)
    (project_dir / "macros" / "fail_at_once.sql").write_text(FAIL_AT_ONCE)
    (project_dir / "dbt_project.yml").write_text(PROJECT)
    (project_dir / "profiles.yml").write_text(session_profile("warm_runner"))
    (project_dir / "models" / "broken.sql").write_text("select * from no_such_table\n")
    (root / "files").mkdir()
    (root / "files" / "a.csv").write_text("1\n")
    return DbtProject(root / "state", project_dir=project_dir, warm=warm)


def _parsed_in_full(project: DbtProject) -> tuple[bool, bool]:
    """What a full parse saw of log_selection.sql: its edited text? the stray block's warning?"""
    parsed = project.dbt("parse", "--no-partial-parse")
    manifest = json.loads((project.workdir / "target" / "manifest.json").read_text())
    text = manifest["macros"]["macro.warm_runner.log_selection"]["macro_sql"]
    return "edited" in text, "UnexpectedJinjaBlockDeprecation" in parsed.stdout


def _rows_in_files(project: DbtProject) -> int:
    shown = project.dbt("show", "--inline", "select count(*) as n from files", "--output", "json")
    return json.loads(re.search(r"\{.*\}", shown.stdout, re.DOTALL).group(0))["show"][0]["n"]


def _answers(project: DbtProject, files: Path) -> dict[str, object]:
    """What a project's commands answer. Each command of a `dbt` process starts a JVM: the
    checks share commands (the registration counts the rows, the compile runs no statement)."""
    registered = project.dbt(
        "run-operation", "register_files", "--args", json.dumps({"path": str(files)})
    )
    counted = re.search(r"rows: (\d+)", registered.stdout)
    assert counted, registered.stdout[-2000:]
    seen_before = int(counted[1])
    # Another process on the metastore (Derby admits one JVM): the runner hands it over.
    shown = project.catalog("show tables in default", own_process=True)
    tables = [row["tableName"] for row in shown[0]]
    (files / "b.csv").write_text("2\n3\n")  # between two commands of the same runner
    seen_after = _rows_in_files(project)
    project.dbt("compile", "--no-populate-cache", "-s", "broken")
    logged = project.dbt("run-operation", "log_selection").stdout
    # A macro edited, parsed in full twice, then given its former text back: the runner's parse
    # caches are keyed by the text, and a text seen before still shows its warnings.
    macro = project.project_dir / "macros" / "log_selection.sql"
    macro.write_text(STRAY_BLOCK + SELECTION.replace("'selected: '", "'edited, selected: '"))
    full_parses = [_parsed_in_full(project), _parsed_in_full(project)]
    macro.write_text(SELECTION)
    full_parses.append(_parsed_in_full(project))
    runner = warm_dbt.runner_pid(project.state_dir)  # a process per command: None
    failed = project.dbt("run", check=False)
    bad_vars = project.dbt("run", "--vars", "{not yaml", check=False)
    rows_after_failures = _rows_in_files(project)
    return {
        "rows seen before and after a new file": (seen_before, seen_after),
        "tables another process sees": tables,
        "selection a run-operation sees after a compile": re.findall(r"selected: (\d+)", logged),
        "an edited macro's full parses: edited text, stray-block warning": full_parses,
        "failed model": (failed.returncode, "TABLE_OR_VIEW_NOT_FOUND" in failed.stdout),
        "bad --vars": (bad_vars.returncode, "--vars argument is not valid" in bad_vars.stdout),
        "rows seen after the failures": rows_after_failures,
        "the same runner (if any) before and after": warm_dbt.runner_pid(project.state_dir)
        == runner,
    }


def test_warm_runner_answers_like_a_dbt_process(tmp_path: Path) -> None:
    warm = _answers(_project(tmp_path / "warm", warm=True), tmp_path / "warm" / "files")
    cold = _answers(_project(tmp_path / "cold", warm=False), tmp_path / "cold" / "files")
    assert warm == cold
    assert cold == {
        "rows seen before and after a new file": (1, 3),
        "tables another process sees": ["files"],
        "selection a run-operation sees after a compile": ["0"],
        "an edited macro's full parses: edited text, stray-block warning": [
            (True, True),
            (True, True),
            (False, False),
        ],
        "failed model": (1, True),
        "bad --vars": (2, True),
        "rows seen after the failures": 3,
        "the same runner (if any) before and after": True,
    }


def test_one_runner_serves_the_tests_of_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_SCHEMA", raising=False)
    project = _project(tmp_path, warm=True)
    pids = []
    # pytest names the current test and phase in the environment: not a reason for a new runner
    for current in ("test_a (setup)", "test_a (call)", "test_b (call)"):
        monkeypatch.setenv("PYTEST_CURRENT_TEST", f"tests/python/test_x.py::{current}")
        project.dbt("parse")
        pids.append(warm_dbt.runner_pid(project.state_dir))
    # nor the test process starting a SparkContext of its own (it sets these for its workers)
    for variable in warm_dbt.SPARK_CONTEXT_VARIABLES:
        monkeypatch.setenv(variable, "1")
    project.dbt("parse")
    pids.append(warm_dbt.runner_pid(project.state_dir))
    # the same state in another schema, target folder and data folder
    # (warm_dbt.PER_COMMAND_VARIABLES): the same runner, each command with its own values, as its
    # process would have them
    other_target = tmp_path / "other-target"
    elsewhere = DbtProject(
        project.workdir,
        project_dir=project.project_dir,
        extra_env=(("DBT_SCHEMA", "elsewhere"), ("DBT_TARGET_PATH", str(other_target))),
        data_folder="other-data",
    )
    logged = [elsewhere.dbt("run-operation", "log_command_variables").stdout]
    pids.append(warm_dbt.runner_pid(project.state_dir))
    assert (other_target / "manifest.json").exists()
    shutil.rmtree(other_target)
    logged.append(project.dbt("run-operation", "log_command_variables").stdout)
    pids.append(warm_dbt.runner_pid(project.state_dir))
    assert not other_target.exists()  # the next command writes to its own target folder
    monkeypatch.setenv("SPARK_ANALYTICS_PROGRESS", "0")  # a variable dbt's process would see
    project.dbt("parse")
    pids.append(warm_dbt.runner_pid(project.state_dir))
    warm_dbt.stop(project.state_dir)
    assert pids[0] is not None and pids[:6] == [pids[0]] * 6
    assert pids[6] not in (None, pids[0])
    assert [re.findall(r"(DBT_SCHEMA|DATA_DIR): ([\w-]+)", out) for out in logged] == [
        [("DBT_SCHEMA", "elsewhere"), ("DATA_DIR", "other-data")],
        [("DBT_SCHEMA", "unset"), ("DATA_DIR", "data")],
    ]


# A program run by DbtProject.python: what it sees, how it ends, what it leaves for the next one.
PROGRAM = """
import os, sys
left_behind = os.environ.get("LEFT_BEHIND"), os.path.basename(os.getcwd())
print(sys.argv[1:], os.environ.get("DBT_SCHEMA"), *left_behind, __name__)
os.environ["LEFT_BEHIND"] = "by " + sys.argv[1]
os.chdir("/")
ending = sys.argv[1]
if ending == "code":
    sys.exit(3)
if ending == "true":
    sys.exit(True)
if ending == "negative":
    sys.exit(-1)
if ending == "message":
    sys.exit("stopped with a message")
if ending == "raise":
    raise ValueError("the program's own error")
"""
ENDINGS = ("none", "code", "true", "negative", "message", "raise")


def _program_answers(project: DbtProject) -> dict[str, tuple[int, str, str]]:
    answers = {}
    for ending in ENDINGS:
        done = project.python("-c", PROGRAM, ending, check=False)
        answers[ending] = (done.returncode, done.stdout.strip(), done.stderr.strip()[-60:])
    return answers


def test_python_programs_answer_like_a_process(tmp_path: Path) -> None:
    """No Spark here: a program's arguments, per-command variables, exit status and errors,
    and a clean slate for the next one (environment, working directory)."""
    in_schema = (("DBT_SCHEMA", "elsewhere"),)
    warm = replace(_project(tmp_path / "warm", warm=True), extra_env=in_schema)
    cold = replace(_project(tmp_path / "cold", warm=False), extra_env=in_schema)
    warm.python("-c", "pass")
    pid = warm_dbt.runner_pid(warm.state_dir)
    warm_answers = _program_answers(warm)
    assert pid is not None and warm_dbt.runner_pid(warm.state_dir) == pid  # failures included
    warm_dbt.stop(warm.state_dir)
    assert warm_answers == _program_answers(cold)
    assert {ending: answer[0] for ending, answer in warm_answers.items()} == {
        "none": 0,
        "code": 3,
        "true": 1,
        "negative": 255,
        "message": 1,
        "raise": 1,
    }
    assert warm_answers["none"][1] == "['none'] elsewhere None project __main__"
    assert warm_answers["raise"][1] == "['raise'] elsewhere None project __main__"  # a clean slate
    assert warm_answers["message"][2] == "stopped with a message"
    assert warm_answers["raise"][2].endswith("ValueError: the program's own error")


def test_a_program_that_stops_the_session_ends_the_runner(tmp_path: Path) -> None:
    """A stopped session cannot serve the next command as a new process would (the JVM stays,
    its SparkContext is gone): the runner ends, and the next command starts a new one."""
    project = _project(tmp_path, warm=True)
    start = "from spark_analytics.session import build_session; spark = build_session('t')"
    project.python("-c", start)
    kept = warm_dbt.runner_pid(project.state_dir)
    project.python("-c", start)
    assert kept is not None and warm_dbt.runner_pid(project.state_dir) == kept
    project.python("-c", f"{start}; spark.stop()")
    assert warm_dbt.runner_pid(project.state_dir) is None


def test_a_command_that_fails_while_the_session_starts_keeps_the_runner(tmp_path: Path) -> None:
    """A macro's error can end a command while its session is still starting in the background:
    the runner lets the start finish and serves the next command with that session."""
    project = _project(tmp_path, warm=True)
    failed = project.dbt("run-operation", "fail_at_once", check=False)
    kept = warm_dbt.runner_pid(project.state_dir)
    assert failed.returncode == 1 and "failed on purpose" in failed.stdout, failed.stdout[-2000:]
    project.dbt(
        "run-operation", "register_files", "--args", json.dumps({"path": str(tmp_path / "files")})
    )
    assert _rows_in_files(project) == 1
    assert kept is not None and warm_dbt.runner_pid(project.state_dir) == kept
