"""Property-based tests (hypothesis): the staging rules and the Python UDFs on hostile values.

Staging: the real compiled SQL of stg_raw__transactions (``dbt compile``, no Spark) is run in the
test's SparkSession over a temp view of generated rows (arbitrary strings, unicode, whitespace,
huge/negative/NaN/inf amounts, odd and impossible dates, nulls, malformed lines), 200 rows per
example in one Spark query. Every row must come out exactly once, either accepted or with a
reason of the contract, and agree with ``expected_row`` below, the same rules in plain Python.

UDFs: the registered Spark UDFs agree with the plain functions on the same kind of values, and
their outputs stay in their documented range.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

import python_udfs
from python_udfs.merchant import normalize_merchant_name
from python_udfs.risk import transaction_risk_score
from tests.python.dbt_project import DbtProject

ROWS_PER_EXAMPLE = 60  # hypothesis buffers are small: 60 rows x 6 fields per example
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    # The same examples every run (CI); raise max_examples to explore more. No shrinking: each
    # step is a Spark query, and the failure message already shows the differing rows.
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
ROW_REASONS = [
    "malformed_row",
    "missing_transaction_id",
    "missing_customer_id",
    "missing_merchant_id",
    "null_amount",
    "non_numeric_amount",
    "negative_amount",
    "unparseable_event_time",
]
SOURCE_COLUMNS = [
    "transaction_id",
    "customer_id",
    "merchant_id",
    "purchase_amount",
    "event_time",
    "_corrupt_record",
]

# --- the staging rules in plain Python ------------------------------------------------------------


def spark_trim(value: str | None) -> str | None:
    """Spark's trim(): removes leading and trailing spaces (U+0020) only."""
    return None if value is None else value.strip(" ")


def id_value(raw: str | None) -> str | None:
    trimmed = spark_trim(raw)
    return trimmed or None  # nullif(trim(x), '')


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def amount_value(raw: str | None) -> Decimal | None:
    """try_cast(trim(x) as decimal(18, 2)): a plain decimal (optional exponent), rounded half
    up to 2 places; null when not a number (NaN, inf, hex, separators) or when it needs more
    than 16 integer digits. The cast itself also ignores surrounding whitespace (<= U+0020)."""
    text = spark_trim(raw)
    if text is None:
        return None
    text = text.strip("".join(chr(c) for c in range(0x21)))
    # Like Java's BigDecimal, Spark's cast accepts any Unicode decimal digit (Nd): "１２３",
    # "١٢٣" and even mixed scripts are numbers. Python's \d and Decimal do the same. A finding,
    # pinned by test_unicode_digits_are_accepted_as_amounts below.
    # Outside the BMP (U+10000 and up, e.g. "𝟒") Java sees surrogate pairs: not digits.
    if not _NUMBER.fullmatch(text) or any(ord(ch) > 0xFFFF for ch in text):
        return None
    try:
        value = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # far too large an exponent for the quantize
        return None
    if abs(value) >= Decimal(10) ** 16:
        return None
    return value + Decimal("0.00")  # -0.00 -> 0.00


_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")


def event_time_parses(raw: str | None) -> bool:
    """Generated event times are either `yyyy-MM-dd HH:mm:ss` (valid iff it is a real date and
    time), or contain no digit at all (never a timestamp)."""
    text = spark_trim(raw)
    if text is None:
        return False
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        assert not any(ch.isdigit() for ch in text), f"generator produced {raw!r}"
        return False
    try:
        datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def expected_row(row: dict[str, str | None]) -> tuple:
    transaction_id = id_value(row["transaction_id"])
    customer_id = id_value(row["customer_id"])
    merchant_id = id_value(row["merchant_id"])
    amount = amount_value(row["purchase_amount"])
    has_time = event_time_parses(row["event_time"])
    checks = {
        "malformed_row": row["_corrupt_record"] is not None,
        "missing_transaction_id": transaction_id is None,
        "missing_customer_id": customer_id is None,
        "missing_merchant_id": merchant_id is None,
        "null_amount": not spark_trim(row["purchase_amount"]),
        "non_numeric_amount": amount is None,
        "negative_amount": amount is not None and amount < 0,
        "unparseable_event_time": not has_time,
    }
    reason = next((r for r in ROW_REASONS if checks[r]), None)
    return (transaction_id, customer_id, merchant_id, amount, has_time, reason)


# --- generated rows -------------------------------------------------------------------------------

# No surrogates (not encodable), otherwise any code point: unicode spaces, RTL, emoji, NUL.
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
padding = st.sampled_from(["", " ", "  ", "\t", "\u00a0", "\u3000"])
ids = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    any_text,
    st.builds(
        lambda p, s, q: p + s + q,
        padding,
        st.from_regex(r"[A-Z]{1,3}\d{1,6}", fullmatch=True),
        padding,
    ),
)
amounts = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "1e999999999",
            "-0",
            "-0.004",
            "0.005",
            "1,000.00",
            "1_000",
            "0x1F",
            "١٢٣",
            "１２３",
            "12.5.1",
            "--5",
            "+7",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "9999999999999999.99",
            "10000000000000000",
            "-1e16",
        ]
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats().map(repr),  # nan, inf, huge and tiny with exponents
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(
        lambda p, s, q: p + s + q,
        st.sampled_from(["", " ", "  "]),
        st.from_regex(r"-?\d{1,20}(\.\d{1,6})?", fullmatch=True),
        st.sampled_from(["", " "]),
    ),
    st.text(alphabet="0123456789.-+eE ,_xaINnf", max_size=10),
)
timestamps = st.one_of(
    st.none(),
    st.just(""),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")
    ),
    st.builds(  # impossible dates and times in the right shape
        lambda y, m, d, h, mi, s: f"{y:04d}-{m:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
        st.integers(1, 9999),
        st.integers(0, 13),
        st.sampled_from([0, 29, 30, 31, 32]),
        st.sampled_from([0, 23, 24, 99]),
        st.sampled_from([0, 59, 60]),
        st.sampled_from([0, 59, 60]),
    ),
    st.builds(
        lambda p, s: p + s + p,
        st.sampled_from(["", " "]),
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")),
    ),
    any_text.map(lambda s: "".join(ch for ch in s if not ch.isdigit())),
)
corrupt = st.one_of(st.none(), st.none(), st.none(), any_text)
rows = st.fixed_dictionaries(
    {
        "transaction_id": ids,
        "customer_id": ids,
        "merchant_id": ids,
        "purchase_amount": amounts,
        "event_time": timestamps,
        "_corrupt_record": corrupt,
    }
)


# --- the compiled staging model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def staging_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    """stg_raw__transactions as dbt compiles it, reading a temp view instead of the source."""
    project = DbtProject(tmp_path_factory.mktemp("properties"))
    project.dbt("compile", "--no-populate-cache", "-s", "stg_raw__transactions")
    compiled = next(Path(project.workdir / "target").rglob("stg_raw__transactions.sql")).read_text()
    source = re.compile(r"`?raw`?\.`?transactions`?")
    assert len(source.findall(compiled)) == 1, compiled
    return source.sub("hypothesis_raw_transactions", compiled)


def _reason_column(columns: list[str]) -> str:
    return next(c for c in ("rejection_reason", "row_rejection_reason") if c in columns)


@SETTINGS
@given(batch=st.lists(rows, min_size=ROWS_PER_EXAMPLE, max_size=ROWS_PER_EXAMPLE))
def test_staging_rules_agree_with_plain_python(
    spark: SparkSession, staging_sql: str, batch: list[dict]
) -> None:
    schema = StructType([StructField(c, StringType(), True) for c in SOURCE_COLUMNS])
    spark.createDataFrame(
        [tuple(r[c] for c in SOURCE_COLUMNS) for r in batch], schema
    ).createOrReplaceTempView("hypothesis_raw_transactions")
    result = spark.sql(staging_sql)
    reason = _reason_column(result.columns)
    got = result.selectExpr(
        "transaction_id",
        "customer_id",
        "merchant_id",
        "purchase_amount",
        "event_time is not null",
        reason,
    ).collect()

    # every row exactly once, accepted or with a reason of the contract
    assert len(got) == len(batch)
    assert {r[5] for r in got} <= {None, *ROW_REASONS}
    for r in got:
        if r[5] is None:
            assert None not in r[:4] and r[3] >= 0 and r[4], r

    expected = Counter(expected_row(r) for r in batch)
    actual = Counter(tuple(r) for r in got)
    if expected != actual:
        missing = list((expected - actual).elements())[:5]
        extra = list((actual - expected).elements())[:5]
        by_key = {expected_row(r): r for r in batch}
        pytest.fail(
            f"plain Python vs Spark differ\n python only: {missing}\n spark only: {extra}\n"
            f" inputs: {[by_key[m] for m in missing]}"
        )


# --- Python UDFs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def udf_spark(spark: SparkSession) -> SparkSession:
    python_udfs.register_all(spark)
    return spark


merchant_names = st.one_of(
    st.none(),
    any_text,
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.builds(
        lambda n, s: f"{n} {s}",
        any_text,
        st.sampled_from(["Inc.", "L.L.C.", "GmbH", "S.A.", "& Co", "Ltd", "ｉｎｃ"]),
    ),
)


@SETTINGS
@given(names=st.lists(merchant_names, min_size=ROWS_PER_EXAMPLE, max_size=ROWS_PER_EXAMPLE))
def test_normalize_merchant_name_spark_agrees_and_is_canonical(
    udf_spark: SparkSession, names: list[str | None]
) -> None:
    df = udf_spark.createDataFrame([(i, n) for i, n in enumerate(names)], "i int, name string")
    df.createOrReplaceTempView("hypothesis_merchant_names")
    got = dict(
        udf_spark.sql(
            "select i, normalize_merchant_name(name) from hypothesis_merchant_names"
        ).collect()
    )
    for i, name in enumerate(names):
        expected = normalize_merchant_name(name)
        assert got[i] == expected, (name, got[i], expected)
        if expected is not None:
            assert re.fullmatch(r"[0-9a-z]+( [0-9a-z]+)*", expected), (name, expected)
            assert normalize_merchant_name(expected) == expected  # idempotent


risk_amounts = st.one_of(
    st.none(),
    st.floats(),  # NaN, +-inf, huge, tiny, negative
    st.floats(min_value=0, max_value=1e7),
    st.sampled_from([0.0, -0.0, -1e-300, 1e308, 5e-324]),
)
risk_hours = st.one_of(
    st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1), st.integers(-2, 25)
)
risk_flags = st.one_of(st.none(), st.booleans())


@SETTINGS
@given(
    batch=st.lists(
        st.tuples(risk_amounts, risk_hours, risk_flags),
        min_size=ROWS_PER_EXAMPLE,
        max_size=ROWS_PER_EXAMPLE,
    )
)
def test_risk_score_spark_agrees_with_plain_function(
    udf_spark: SparkSession, batch: list[tuple]
) -> None:
    schema = StructType(
        [
            StructField("i", IntegerType()),
            StructField("amount", DoubleType()),
            StructField("hour", IntegerType()),
            StructField("cross", BooleanType()),
        ]
    )
    udf_spark.createDataFrame(
        [(i, *r) for i, r in enumerate(batch)], schema
    ).createOrReplaceTempView("hypothesis_risk_inputs")
    got = dict(
        udf_spark.sql(
            "select i, transaction_risk_score(amount, hour, cross) from hypothesis_risk_inputs"
        ).collect()
    )
    for i, (amount, hour, cross) in enumerate(batch):
        expected = transaction_risk_score(amount, hour, cross)
        actual = got[i]
        if actual is not None and math.isnan(actual):
            actual = None
        if expected is None:
            assert actual is None, (amount, hour, cross, actual)
            # null exactly when an input is missing or out of its domain
            assert (
                amount is None
                or not math.isfinite(amount)
                or amount < 0
                or hour is None
                or not 0 <= hour <= 23
            ), (amount, hour, cross)
        else:
            assert actual is not None and 0.0 <= actual <= 1.0, (amount, hour, cross, actual)
            assert abs(actual - expected) <= 1e-4, (amount, hour, cross, actual, expected)


def test_unicode_digits_are_accepted_as_amounts(spark: SparkSession, staging_sql: str) -> None:
    """Pins a finding: Spark (Java BigDecimal) casts any BMP Unicode decimal digits, so
    "１２３" and even mixed-script "-᧙.၈0" are accepted amounts, not non_numeric_amount. Staging
    would need an ASCII check (e.g. `rlike '^[+-]?[0-9.eE]+$'`) to reject them."""
    schema = StructType([StructField(c, StringType(), True) for c in SOURCE_COLUMNS])
    amounts = ["１２３", "١٢٣", "-᧙.၈0", "𝟒"]
    spark.createDataFrame(
        [("T", "C", "M", a, "2024-01-01 00:00:00", None) for a in amounts], schema
    ).createOrReplaceTempView("hypothesis_raw_transactions")
    result = spark.sql(staging_sql)
    got = {r[0]: r[1] for r in result.select("raw_purchase_amount", "purchase_amount").collect()}
    assert got == {a: amount_value(a) for a in amounts}
    assert got["１２３"] == Decimal("123.00") and got["𝟒"] is None
