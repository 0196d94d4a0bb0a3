"""Bad files get a clear error or a failing test with a readable message, never silently empty
or wrong marts.

Registration-time faults (missing path, empty directory, empty or header-only CSV, a Parquet
file with other columns) stop the `register_external_sources` hook, naming the source and the
location; it registers only the source under test (``--args {only: [...]}``) so each case is
one short dbt invocation. Content faults (a wrong delimiter: every row malformed; a file that is
not UTF-8) are caught by the source tests `quarantine_share_below` (a small `dbt build`, 2k rows)
and `valid_utf8` (`dbt test` of the source, which reads raw lines unless an encoding is declared).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.python.dbt_project import DbtProject, copy_of_project, replace_once

ROWS = 2000


def _out(result: subprocess.CompletedProcess[str]) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject(tmp_path_factory.mktemp("bad_files"))
    project.generate("--rows", str(ROWS), "--seed", "7", "--formats", "csv")
    return project


@pytest.fixture(scope="module")
def bad(project: DbtProject) -> Path:
    """The bad files, next to the good ones."""
    root = project.data_dir / "bad"
    (root / "empty_dir").mkdir(parents=True)
    (root / "empty_csv").mkdir()
    (root / "empty_csv" / "part-0.csv").write_bytes(b"")
    (root / "header_only").mkdir()
    (root / "header_only" / "part-0.csv").write_text(
        "transaction_id,customer_id,merchant_id,purchase_amount,event_time\n"
    )
    good_csv = next((project.generated_dir / "transactions" / "csv").glob("*.csv"))
    (root / "semicolon").mkdir()
    (root / "semicolon" / "part-0.csv").write_text(good_csv.read_text().replace(",", ";"))
    # customers as Latin-1 (the generator writes UTF-8): accents become invalid bytes
    good_customers = next((project.generated_dir / "customers").glob("*.jsonl"))
    lines = good_customers.read_text(encoding="utf-8").splitlines()
    latin = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        if i % 3 == 0 and isinstance(record.get("customer_name"), str):
            record["customer_name"] = "Zoë Müller-Ångström"
        latin.append(json.dumps(record, ensure_ascii=False))
    (root / "latin1").mkdir()
    (root / "latin1" / "customers.jsonl").write_bytes("\n".join(latin).encode("latin-1", "replace"))
    # U+FFFD as the JSON escape a producer writes after decoding badly (ensure_ascii)
    escaped = [json.dumps({**json.loads(line), "customer_name": "Zo\ufffd"}) for line in lines[:50]]
    (root / "escaped").mkdir()
    (root / "escaped" / "customers.jsonl").write_text("\n".join(escaped) + "\n")
    # transactions with one Latin-1 merchant id, far into its line and the file
    rows = good_csv.read_text(encoding="utf-8").splitlines()
    fields = rows[len(rows) // 2].split(",")
    fields[2] = "Zoë Müller"
    rows[len(rows) // 2] = ",".join(fields)
    (root / "latin1_csv").mkdir()
    (root / "latin1_csv" / "part-0.csv").write_bytes("\n".join(rows).encode("latin-1"))
    # the good customers, and Latin-1 notes beside them that only a file filter keeps out
    (root / "filtered").mkdir()
    (root / "filtered" / "customers.jsonl").write_bytes(good_customers.read_bytes())
    (root / "filtered" / "notes.txt").write_bytes("Zoë Müller-Ångström\n".encode("latin-1"))
    # merchants with other column names
    (root / "other_schema").mkdir()
    pq.write_table(
        pa.table({"id": ["M1", "M2"], "name": ["a", "b"], "mcc": ["5411", "5812"]}),
        root / "other_schema" / "merchants.parquet",
    )
    return root


def _register(project: DbtProject, source: str, dbt_vars: dict[str, str]):
    return project.dbt(
        "run-operation",
        "register_external_sources",
        "--args",
        json.dumps({"only": [source]}),
        dbt_vars=dbt_vars,
        check=False,
    )


@pytest.mark.parametrize(
    ("case", "source", "var", "expected"),
    [
        (
            "missing",
            "raw.transactions",
            "transactions_location",
            r"Source raw\.transactions is empty: .* \(the path does not exist",
        ),
        (
            "empty_dir",
            "raw.transactions",
            "transactions_location",
            r"Source raw\.transactions is empty",
        ),
        (
            "empty_csv",
            "raw.transactions",
            "transactions_location",
            r"Source raw\.transactions is empty",
        ),
        (
            "header_only",
            "raw.transactions",
            "transactions_location",
            r"Source raw\.transactions is empty",
        ),
        (
            "other_schema",
            "raw.merchants",
            "merchants_location",
            r"do not have the declared column\(s\) merchant_id, merchant_name, "
            r"category_code, country",
        ),
    ],
)
def test_bad_location_stops_the_run_naming_source_and_path(
    project: DbtProject, bad: Path, case: str, source: str, var: str, expected: str
) -> None:
    location = str(bad / case)
    result = _register(project, source, {var: location})
    out = _out(result)
    assert result.returncode != 0, out[-4000:]
    assert re.search(expected, out), out[-4000:]
    # the console names the source and the location before (or in) the error
    assert f"Registering source {source}" in out and location in out, out[-4000:]


def test_wrong_delimiter_fails_the_build_with_a_readable_message(
    project: DbtProject, bad: Path
) -> None:
    result = project.dbt(
        "build",
        "-s",
        "+quarantine_transactions",
        "--indirect-selection",
        "cautious",
        "--exclude",
        "test_name:row_count_reconciles",
        dbt_vars={"transactions_location": str(bad / "semicolon")},
        check=False,
    )
    out = _out(result)
    assert result.returncode != 0, out[-6000:]
    assert re.search(
        r"Quarantine share too high for \S*raw\S*transactions\S*: 2000 of 2000 rows \(100(\.0)?%\)",
        out,
    ), out[-6000:]
    # the good customers and merchants sources pass both checks
    assert not re.search(
        r"(Quarantine share too high for \S*(customers|merchants)\S*: \d+ of"
        r"|Not UTF-8: [^:]*(customers|merchants))",
        out,
    ), out[-6000:]


NOT_UTF8 = r"Not UTF-8: \d+ line\(s\) of the files of \S*raw\S*{source}"


@pytest.mark.parametrize(
    ("case", "source", "mapping", "failure"),
    [
        # read as UTF-8: the check reads the files' raw lines (JSON, CSV)
        ("latin1", "customers", None, NOT_UTF8),
        ("latin1_csv", "transactions", None, NOT_UTF8),
        # U+FFFD written as a JSON escape by a producer that had decoded badly
        ("escaped", "customers", None, NOT_UTF8),
        # the Latin-1 file with its encoding declared: decoded right, so its values are valid
        (
            "latin1",
            "customers",
            {"format": "json", "options": {"encoding": "ISO-8859-1", "lineSep": "\n"}},
            None,
        ),
        # a Latin-1 file beside the data that the reader's file filter leaves out
        (
            "filtered",
            "customers",
            {"format": "json", "options": {"pathGlobFilter": "*.jsonl"}},
            None,
        ),
        # ... and the same file once the filter lets it in
        (
            "filtered",
            "customers",
            {"format": "json", "options": {"pathGlobFilter": "*.*"}},
            NOT_UTF8,
        ),
    ],
    ids=[
        "latin1-json",
        "latin1-csv",
        "escaped-replacement-character",
        "latin1-declared",
        "filter-leaves-it-out",
        "filter-lets-it-in",
    ],
)
def test_non_utf8_file_fails_the_source_test_with_a_readable_message(
    project: DbtProject,
    bad: Path,
    case: str,
    source: str,
    mapping: dict | None,
    failure: str | None,
) -> None:
    # A source test fails before any model reads the file (dbt build skips what depends on it).
    location = str(bad / case)
    dbt_vars: dict[str, object] = {f"{source}_location": location}
    if mapping:
        dbt_vars = {"source_mappings": {source: {"location": location, **mapping}}}
    result = project.dbt(
        "test", "-s", f"source:raw.{source},test_name:valid_utf8", dbt_vars=dbt_vars, check=False
    )
    out = _out(result)
    if failure is None:
        assert result.returncode == 0, out[-6000:]
        assert re.search(rf"1 of 1 PASS source_valid_utf8_raw_{source}", out), out[-6000:]
    else:
        assert result.returncode != 0, out[-6000:]
        assert re.search(failure.format(source=source), out), out[-6000:]
        assert "Zo" in out, out[-6000:]  # the example shows the bad text


# The line check runs only where it sees what the reader sees (`utf8_line_scan`); everywhere else
# the test checks the values through the relation, and its message says which ("value(s) of").
NOT_UTF8_VALUES = r"Not UTF-8: \d+ value\(s\) of [^\n]*?raw\S*{source}"
UTF8_TEST_SELECTOR = "source:raw.{source},test_name:valid_utf8"
LINE_VIEW = "_spark_analytics_lines_"


def _compiled_test(project: DbtProject, source: str) -> str:
    compiled = project.workdir / "target" / "compiled"
    return next(compiled.rglob(f"source_valid_utf8_raw_{source}_.sql")).read_text()


def test_stored_failures_check_the_values(project: DbtProject, bad: Path) -> None:
    # A stored-failures table cannot select from the session's temporary view of the lines.
    result = project.dbt(
        "test",
        "-s",
        UTF8_TEST_SELECTOR.format(source="customers"),
        "--store-failures",
        dbt_vars={"customers_location": str(bad / "latin1")},
        check=False,
    )
    out = _out(result)
    assert result.returncode != 0, out[-6000:]
    assert re.search(NOT_UTF8_VALUES.format(source="customers"), out), out[-6000:]
    assert "Zo" in out, out[-6000:]


def test_empty_build_reads_no_line(project: DbtProject, bad: Path) -> None:
    # `--empty` reads no row: the Latin-1 file passes, its lines unread.
    result = project.dbt(
        "build",
        "--empty",
        "-s",
        UTF8_TEST_SELECTOR.format(source="customers"),
        dbt_vars={"customers_location": str(bad / "latin1")},
        check=False,
    )
    out = _out(result)
    assert result.returncode == 0, out[-6000:]
    assert re.search(r"1 of 1 PASS source_valid_utf8_raw_customers", out), out[-6000:]
    compiled = _compiled_test(project, "customers")
    assert LINE_VIEW not in compiled and "is_valid_utf8(`customer_name`)" in compiled, compiled


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "never-registered"])
def test_compile_reads_no_line(project: DbtProject, bad: Path, registered: bool) -> None:
    # `compile` runs no source registration: the files may be missing, the source unregistered
    # (then it has no column to check).
    dbt_vars = {"customers_location": str(bad / "no_such_dir")}
    if registered:
        latin1 = {"customers_location": str(bad / "latin1")}
        registration = _register(project, "raw.customers", latin1)
        assert registration.returncode == 0, _out(registration)[-6000:]
    else:
        dbt_vars["raw_schema"] = "raw_never_registered"
    project.dbt("compile", "-s", UTF8_TEST_SELECTOR.format(source="customers"), dbt_vars=dbt_vars)
    compiled = _compiled_test(project, "customers")
    assert LINE_VIEW not in compiled, compiled
    assert ("is_valid_utf8(`customer_name`)" in compiled) is registered, compiled
    assert ("where false" in compiled) is not registered, compiled


def test_where_and_allow_empty_check_the_values(
    project: DbtProject, bad: Path, tmp_path: Path
) -> None:
    """A test with a `where` reads the filtered relation; a source that may be empty (its path
    need not exist) is read through the relation too: both keep the value check."""
    copy = copy_of_project(tmp_path)
    sources = copy / "models" / "staging" / "raw" / "_raw__sources.yml"
    # transactions may be empty; customers' test gets a `where` that keeps every row (only the
    # way the test reads changes)
    transactions = "          external:\n            location: \"{{ var('transactions_location'"
    allow_empty = "external:\n            allow_empty: true"
    replace_once(sources, transactions, transactions.replace("external:", allow_empty, 1))
    customers = "          - valid_utf8\n        meta:\n          external:\n            location: "
    customers += "\"{{ var('customers_location'"
    where = '- valid_utf8:\n              config:\n                where: "1 = 1"\n'
    replace_once(sources, customers, customers.replace("- valid_utf8\n", where, 1))
    # The module's metastore and data; a runner of its own (another project folder).
    edited = DbtProject(
        project.workdir,
        extra_env=(("DBT_TARGET_PATH", str(tmp_path / "target")),),
        project_dir=copy,
    )
    selected = [UTF8_TEST_SELECTOR.format(source=name) for name in ("customers", "transactions")]
    result = edited.dbt(
        "test",
        "-s",
        *selected,
        dbt_vars={
            "customers_location": str(bad / "latin1"),
            "transactions_location": str(bad / "latin1_csv"),
        },
        check=False,
    )
    out = _out(result)
    assert result.returncode != 0, out[-6000:]
    for source in ("customers", "transactions"):
        assert re.search(NOT_UTF8_VALUES.format(source=source), out), out[-6000:]
    # Compiled where no source is registered: no column to describe, no error.
    edited.dbt("compile", "-s", *selected, dbt_vars={"raw_schema": "raw_never_registered"})
