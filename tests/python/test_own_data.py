"""Your own files (docs/own_data.md): the README's example, `make run DATA=examples/shop`.

The example's files are shaped unlike ours (other column names, `;` delimiter, decimal comma and
thousands dot, ISO 8601 timestamps with an offset, a `dd.MM.yyyy` date, extra columns, no
merchants file). The marts must equal the seed's plain PySpark logic applied to the same files
parsed here in plain Python, and the rows no mapping can convert must be quarantined with the
usual reasons.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    DecimalType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from pyspark.testing import assertDataFrameEqual

from spark_analytics.own_data import OwnDataError, dbt_vars
from tests.python.dbt_project import MARTS, QUARANTINE, REPO_ROOT, DbtProject
from tests.python.test_marts import customer_rfm, merchant_sales, seed_sales_by_segment

EXAMPLE = REPO_ROOT / "examples" / "shop"
TRANSACTIONS = StructType(
    [
        StructField("transaction_id", StringType()),
        StructField("customer_id", StringType()),
        StructField("merchant_id", StringType()),
        StructField("purchase_amount", DecimalType(18, 2)),
        StructField("event_time", TimestampType()),
    ]
)


@pytest.fixture(scope="module")
def own_data_project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The README's build on a copy of the example (exit 0: the ML gate only warns). Its summary
    step runs in the warm runner the later tests start anyway (test_the_run_summary_...)."""
    workdir = tmp_path_factory.mktemp("own_data")
    shutil.copytree(EXAMPLE, workdir / "shop")
    project = DbtProject(workdir)
    project.run("make", "build", f"DATA={workdir / 'shop'}")
    return project


# --- the example's files, parsed in plain Python (independent of the mapping's SQL) ----------


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(".", "").replace(",", "."))
    except InvalidOperation:
        return None


def _event_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        return None


def _orders() -> list[dict[str, str]]:
    with (EXAMPLE / "orders.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _accepted_orders() -> list[tuple[str, str, str, Decimal, datetime]]:
    """The orders whose amount and event time convert, as TRANSACTIONS rows."""
    rows = [
        (
            o["order_key"],
            o["cust_key"],
            o["store"],
            _amount(o["total_price"]),
            _event_time(o["order_ts"]),
        )
        for o in _orders()
    ]
    return [r for r in rows if None not in r]


def accepted_transactions(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(_accepted_orders(), TRANSACTIONS)


def expected_rejections() -> Counter:
    reasons: Counter = Counter()
    for order in _orders():
        if _amount(order["total_price"]) is None:
            reasons["non_numeric_amount"] += 1
        elif _event_time(order["order_ts"]) is None:
            reasons["unparseable_event_time"] += 1
    return reasons


# --- tests -----------------------------------------------------------------------------------


def test_marts_equal_the_plain_pyspark_logic_on_the_mapped_files(
    spark: SparkSession, own_data_project: DbtProject
) -> None:
    transactions = accepted_transactions(spark)
    read = lambda table: own_data_project.read_table(spark, MARTS, table)  # noqa: E731
    assertDataFrameEqual(
        read("rpt_sales_by_segment").select(
            "purchase_segment", "transaction_count", "customer_count", "avg_purchase", "total_sales"
        ),
        seed_sales_by_segment(transactions),
        checkRowOrder=False,
    )
    assertDataFrameEqual(
        read("dim_customers")
        .where("purchase_count > 0")
        .select("customer_id", "purchase_count", "lifetime_spend", "recency_days"),
        customer_rfm(transactions),
        checkRowOrder=False,
    )
    assertDataFrameEqual(
        read("dim_merchants").select("merchant_id", "transaction_count", "total_sales"),
        merchant_sales(transactions),
        checkRowOrder=False,
    )
    # Every customer of the file, with the date-only column read through its format.
    customers = read("dim_customers")
    with (EXAMPLE / "customers.csv").open(encoding="utf-8", newline="") as handle:
        since = {
            c["cust_key"]: datetime.strptime(c["member_since"], "%d.%m.%Y").date()
            for c in csv.DictReader(handle)
        }
    assert {r.customer_id: r.signup_date for r in customers.collect()} == since
    # No merchants file: one merchant per store, from the constants and the expression.
    merchants = read("dim_merchants").collect()
    assert {(m.merchant_name, m.category_name, m.country_code) for m in merchants} == {
        (f"Store {m.merchant_id}", "Groceries", "DE") for m in merchants
    }


def test_unconvertible_values_are_quarantined_with_the_usual_reasons(
    spark: SparkSession, own_data_project: DbtProject
) -> None:
    quarantine = own_data_project.read_table(spark, QUARANTINE, "quarantine_transactions")
    assert Counter(r.rejection_reason for r in quarantine.collect()) == expected_rejections()
    # The text that could not be converted is kept as it was in the file.
    kept = {
        r.transaction_id: (r.raw_purchase_amount, r.raw_event_time) for r in quarantine.collect()
    }
    for order in _orders():
        if order["order_key"] in kept and _amount(order["total_price"]) is None:
            assert kept[order["order_key"]][0] == order["total_price"]
        elif order["order_key"] in kept:
            assert kept[order["order_key"]][1] == order["order_ts"]
    # Nothing lost: every line of the orders file is in the mart or in quarantine.
    facts = own_data_project.read_table(spark, MARTS, "fct_purchases").count()
    assert facts + quarantine.count() == len(_orders())


def test_the_run_summary_prints_the_marts_and_the_quarantine(
    own_data_project: DbtProject,
) -> None:
    """`make summary`'s command: the totals and the rejection counts of the example's files."""
    summary = own_data_project.dbt(
        "run-operation", "print_run_summary", dbt_vars=dbt_vars(own_data_project.workdir / "shop")
    ).stdout
    accepted = [amount for _, _, _, amount, _ in _accepted_orders()]
    total = rf"^total\s+{len(accepted)}\s+{re.escape(f'{sum(accepted):.2f}')}$"
    assert re.search(total, summary, re.MULTILINE), summary
    rejected = expected_rejections()
    assert len(accepted) + sum(rejected.values()) == len(_orders())
    for reason, count in rejected.items():
        line = rf"^\s+{re.escape(reason)}\s+{count}$"
        assert re.search(line, summary, re.MULTILINE), (reason, summary)


def _mapped(project: DbtProject, rules: dict[str, dict[str, object]]) -> dict[str, object]:
    """Each rule of macros/source_mappings.sql applied to a constant, evaluated by Spark."""
    columns = ", ".join(
        f"{{{{ mapped_column_sql({json.dumps(rule)}) }}}} as {name}" for name, rule in rules.items()
    )
    result = project.dbt(
        "show",
        "--inline",
        f"select {columns}",
        "--output",
        "json",
        dbt_vars=dbt_vars(project.workdir / "shop"),
    )
    payload = result.stdout[result.stdout.index("{") : result.stdout.rindex("}") + 1]
    return json.loads(payload)["show"][0]


def test_each_conversion_rule_gives_the_text_staging_casts(own_data_project: DbtProject) -> None:
    epoch = 1_700_000_000
    cases = {
        "seconds": ({"value": str(epoch), "formats": ["epoch_seconds"]}, "2023-11-14 22:13:20"),
        "millis": (
            {"value": str(epoch * 1000 + 250), "formats": ["epoch_millis"]},
            "2023-11-14 22:13:20.25",
        ),
        "offset": (
            {"value": "2024-03-01T10:00:00+02:00", "formats": ["yyyy-MM-dd'T'HH:mm:ssXXX"]},
            "2024-03-01 08:00:00",
        ),
        "second_format": (
            {"value": "01/03/2024", "formats": ["yyyy-MM-dd", "dd/MM/yyyy"]},
            "2024-03-01 00:00:00",
        ),
        "unparsed_kept": ({"value": "soon", "formats": ["epoch_seconds", "dd/MM/yyyy"]}, "soon"),
        "huge_epoch_kept": (
            {"value": "99999999999999999", "formats": ["epoch_seconds"]},
            "99999999999999999",
        ),
        "german": (
            {"value": "1.234,56", "decimal_separator": ",", "thousands_separator": "."},
            "1234.56",
        ),
        "us": ({"value": "1,234.56", "thousands_separator": ","}, "1234.56"),
        "not_a_number_kept": ({"value": "12,3,4", "decimal_separator": ","}, "12,3,4"),
        "quote_in_value": ({"value": "it's"}, "it's"),
    }
    got = _mapped(
        own_data_project, {name: {"formats": [], **rule} for name, (rule, _) in cases.items()}
    )
    assert got == {name: expected for name, (_, expected) in cases.items()}
    assert datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") == cases["seconds"][1]


def test_a_missing_column_names_the_source_the_column_and_the_fix(
    own_data_project: DbtProject,
) -> None:
    dbt_vars_ = dbt_vars(own_data_project.workdir / "shop")
    dbt_vars_["source_mappings"]["transactions"]["columns"]["transaction_id"] = "order_number"
    run = own_data_project.dbt(
        "run-operation", "register_external_sources", dbt_vars=dbt_vars_, check=False
    )
    assert run.returncode != 0, run.stdout[-3000:]
    assert "source raw.transactions" in run.stdout
    assert "have no column for: transaction_id <- 'order_number'" in run.stdout
    assert "order_key, cust_key, store, total_price, order_ts, channel" in run.stdout
    assert "source_mappings" in run.stdout and "Traceback" not in run.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {"transaction_idd": "order_key"}}, "expected one of the source's columns"),
        (
            {"columns": {"event_time": {"column": "order_ts", "format": "x"}}},
            "expected one of column, value",
        ),
        (
            {"columns": {"purchase_amount": {"column": "total_price", "decimal_separator": ",,"}}},
            "expected one character",
        ),
        (
            {"columns": {"merchant_id": {"value": "M", "column": "store"}}},
            "exactly one of column, value, expression",
        ),
        ({"delimiter": ";"}, "expected one of location, format, options, distinct, columns"),
    ],
)
def test_a_mistyped_mapping_is_a_clear_error(
    own_data_project: DbtProject, change: dict[str, object], message: str
) -> None:
    dbt_vars_ = dbt_vars(own_data_project.workdir / "shop")
    entry = dbt_vars_["source_mappings"]["transactions"]
    for key, value in change.items():
        entry[key] = {**entry[key], **value} if key == "columns" else value
    run = own_data_project.dbt(
        "run-operation", "check_source_mappings", dbt_vars=dbt_vars_, check=False
    )
    assert run.returncode != 0 and message in run.stdout, run.stdout[-2000:]


@pytest.mark.parametrize("data", [[], ["DATA=examples/shop"]])
def test_build_args_reach_dbt_build(data: list[str]) -> None:
    """`make run DATA=... BUILD_ARGS='--exclude path:models/ml'`: data too small for the ML models
    (docs/own_data.md)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DATA", "MAKEFLAGS", "MFLAGS")}
    planned = subprocess.run(
        ["make", "-n", "build", "BUILD_ARGS=--exclude path:models/ml", *data],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dbt build --exclude path:models/ml" in planned


def test_data_dir_and_mapping_file_errors(tmp_path: Path) -> None:
    with pytest.raises(OwnDataError, match="not a directory"):
        dbt_vars(tmp_path / "missing")
    (tmp_path / "mapping.yml").write_text("- a list\n")
    with pytest.raises(OwnDataError, match="expected dbt vars"):
        dbt_vars(tmp_path)
    with pytest.raises(OwnDataError, match="no such file"):
        dbt_vars(tmp_path, tmp_path / "other.yml")
    (tmp_path / "mapping.yml").write_text("source_mappings: {}\n")
    assert dbt_vars(tmp_path) == {"source_mappings": {}, "data_dir": str(tmp_path.resolve())}
