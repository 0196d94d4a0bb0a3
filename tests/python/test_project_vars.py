"""The project's vars: each one the project reads has its default in dbt_project.yml (and only
there), or is one of the sources' own (read, with their defaults, in the sources' YAML), and a
``--vars`` name outside those stops the command (macros/validate_inputs.sql,
``check_cli_var_names``) instead of being ignored.

The static checks read the project's files and are computed here independently of the macro.
The dbt checks run the real project in isolated state; neither starts a model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from spark_analytics.contracts import dbt_var, project_file
from spark_analytics.own_data import dbt_vars
from tests.python.dbt_project import REPO_ROOT, DbtProject

# A var read by name: dbt's var(), the validate_inputs macros, Python's dbt_var().
VAR_READ = re.compile(
    r"\b(?:var|dbt_var|validated_(?:number|integer|date))\(\s*['\"]([A-Za-z0-9_]+)['\"]"
)
# A dbt var() read that gives a default of its own.
DEFAULTED_READ = re.compile(r"\bvar\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*,")
READERS = ("models", "macros", "snapshots", "tests/generic", "spark_analytics")
# The adapter reads var clone_strategy (clone.sql). A package of its own, it keeps a default for
# projects that do not set the var, so it counts as a reader but not as a second default.
ADAPTER_MACROS = "adapters/dbt-spark-oss/dbt/include"
SOURCES_OWN_SUFFIXES = ("_location", "_format", "_infer_schema")


def reader_files(with_adapter: bool = True) -> list[Path]:
    files = [REPO_ROOT / "dbt_project.yml"]
    for folder in READERS + ((ADAPTER_MACROS,) if with_adapter else ()):
        files += [
            path
            for path in sorted((REPO_ROOT / folder).rglob("*"))
            if path.suffix in {".sql", ".yml", ".py"}
        ]
    return files


def var_reads(
    pattern: re.Pattern[str] = VAR_READ, with_adapter: bool = True
) -> dict[str, set[str]]:
    """var name -> the files that read it (dbt_project.yml's config lines included)."""
    reads: dict[str, set[str]] = {}
    for path in reader_files(with_adapter):
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            reads.setdefault(name, set()).add(str(path.relative_to(REPO_ROOT)))
    return reads


def project_vars() -> set[str]:
    return set(yaml.safe_load(project_file().read_text(encoding="utf-8"))["vars"])


def sources_own_vars() -> set[str]:
    """data_dir, <source>_schema, and <table>_location/_format/_infer_schema per file source."""
    names = {"data_dir"}
    for path in (REPO_ROOT / "models").rglob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            names.add(f"{source['name']}_schema")
            for table in source.get("tables", []):
                if (table.get("meta") or {}).get("external"):
                    names |= {table["name"] + suffix for suffix in SOURCES_OWN_SUFFIXES}
    return names


def test_every_var_read_is_declared() -> None:
    undeclared = {
        name: sorted(files)
        for name, files in var_reads().items()
        if name not in project_vars() | sources_own_vars()
    }
    assert not undeclared, f"read with no default under vars: in dbt_project.yml: {undeclared}"


def test_every_declared_var_is_read() -> None:
    """No stale default: a var the project declares (or accepts for a source) has a reader."""
    unread = (project_vars() | sources_own_vars()) - set(var_reads())
    assert not unread, f"declared or accepted but read nowhere: {sorted(unread)}"


def test_a_project_var_has_no_second_default() -> None:
    """dbt_project.yml's default is the only one: no reader passes its own to var()."""
    second = {
        name: sorted(files)
        for name, files in var_reads(DEFAULTED_READ, with_adapter=False).items()
        if name in project_vars()
    }
    assert not second, f"a default besides dbt_project.yml's: {second}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return DbtProject(tmp_path_factory.mktemp("project_vars"))


def _output(result) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_a_misspelled_var_stops_the_run_before_any_model(project: DbtProject) -> None:
    result = project.dbt(
        "run", "-s", "stg_raw__merchants", dbt_vars={"high_value_treshold": 5}, check=False
    )
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert (
        'Unknown var in --vars: "high_value_treshold" (did you mean "high_value_threshold"?).'
        in out
    ), out[-3000:]
    # The names it lists are this file's independent reading of the project.
    listed = re.search(r"The vars --vars may set: (.*?)\. A var", out)
    assert listed and listed[1].split(", ") == sorted(project_vars() | sources_own_vars())
    # The adapter stopped it as dbt filled its relation cache, before any hook or model ran.
    assert "on-run-start" not in out and "OK created" not in out, out[-3000:]


# Commands that run no hooks; STATE stands for a --state folder holding the project's manifest.
STATE = "<state>"
HOOKLESS = {
    "compile": ("compile", "-s", "stg_raw__merchants"),
    "show": ("show", "-s", "stg_raw__merchants"),
    "docs generate": ("docs", "generate"),
    "clone": ("clone", "--state", STATE, "-s", "stg_raw__merchants"),
}


def _hookless(project: DbtProject, name: str) -> list[str]:
    # dbt writes the manifest into its target folder as it parses, before clone reads --state.
    state = str(project.workdir / "target")
    return [state if part == STATE else part for part in HOOKLESS[name]]


@pytest.mark.parametrize("name", list(HOOKLESS))
def test_commands_without_hooks_check_the_names_too(project: DbtProject, name: str) -> None:
    """Commands without hooks refuse a misspelled name too (`dbt clone --vars
    '{clone_stratgy: copy}'` would otherwise clone as views unsaid)."""
    result = project.dbt(*_hookless(project, name), dbt_vars={"clone_stratgy": "copy"}, check=False)
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert '"clone_stratgy" (did you mean "clone_strategy"?)' in out, out[-3000:]


def test_an_inline_query_may_read_vars_of_its_own(project: DbtProject) -> None:
    query = "select '{{ var(\"ad_hoc\") }}' as value"
    result = project.dbt("show", "--inline", query, dbt_vars={"ad_hoc": "seen"}, check=False)
    assert result.returncode == 0 and "seen" in result.stdout, _output(result)[-3000:]
    # A name the query does not read with `var(...)` is still checked, even where its text
    # contains it (here as a column's name).
    given = {"ad_hoc": "seen", "high_value_treshold": 5}
    query += ", 5 as high_value_treshold"
    result = project.dbt("compile", "--inline", query, dbt_vars=given, check=False)
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert 'Unknown var in --vars: "high_value_treshold" (did you mean' in out, out[-3000:]


def test_a_command_without_hooks_accepts_the_sources_own_vars(project: DbtProject) -> None:
    own = {"transactions_location": "elsewhere.csv", "raw_schema": "raw"}
    result = project.dbt(*_hookless(project, "compile"), dbt_vars=own, check=False)
    assert result.returncode == 0, _output(result)[-3000:]


def test_without_the_cache_the_first_hook_checks(project: DbtProject) -> None:
    """`--no-populate-cache` skips the adapter's check: the first on-run-start hook runs it."""
    result = project.dbt(
        "run",
        "--no-populate-cache",
        "-s",
        "stg_raw__merchants",
        dbt_vars={"high_value_treshold": 5},
        check=False,
    )
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert '"high_value_treshold" (did you mean "high_value_threshold"?)' in out, out[-3000:]
    # The sources' registration (the second hook) and models never ran.
    assert "on-run-start-0" in out and "on-run-start-1" not in out, out[-3000:]
    assert "OK created" not in out


def test_a_mapping_files_misspelled_top_key_is_refused(project: DbtProject, tmp_path: Path) -> None:
    """`source_mapping:` (for source_mappings) in a MAPPING file, turned into vars as `make run
    DATA=... MAPPING=...` does: refused, and checked without Spark."""
    mapping = tmp_path / "mapping.yml"
    mapping.write_text("source_mapping:\n  transactions:\n    location: orders.csv\n")
    run_vars = dbt_vars(tmp_path, mapping)
    result = project.dbt("run-operation", "check_source_mappings", dbt_vars=run_vars, check=False)
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert '"source_mapping" (did you mean "source_mappings"?)' in out, out[-3000:]


def test_every_unknown_name_is_reported_once_close_or_not(project: DbtProject) -> None:
    given = {"zzz_unrelated": 1, "ML_HORIZON_DAYS": 7, "transactions_format": "csv"}
    result = project.dbt("run-operation", "check_source_mappings", dbt_vars=given, check=False)
    out = _output(result)
    assert result.returncode != 0, out[-3000:]
    assert (
        'Unknown vars in --vars: "zzz_unrelated", "ML_HORIZON_DAYS" (did you mean'
        ' "ml_horizon_days"?). The project reads no var of these names' in out
    ), out[-3000:]


def test_every_name_the_project_reads_is_accepted(project: DbtProject) -> None:
    """The macro's rule and this file's agree: every declared and source var passes the check
    (set to its own default, so the command's outcome is the one without --vars)."""
    accepted = {name: dbt_var(name) for name in project_vars()}
    accepted["ml_cutoff_date"] = "2024-02-29"  # its default is null
    result = project.dbt("run-operation", "check_source_mappings", dbt_vars=accepted, check=False)
    assert result.returncode == 0, _output(result)[-3000:]
    own = {name: "x" for name in sources_own_vars()}
    result = project.dbt("run-operation", "check_cli_var_names", dbt_vars=own, check=False)
    assert result.returncode == 0, _output(result)[-3000:]
