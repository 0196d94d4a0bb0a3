"""Python UDFs: plain-function logic (no Spark) and the registered Spark UDFs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

import python_udfs
from python_udfs.merchant import normalize_merchant_name
from python_udfs.risk import transaction_risk_score, transaction_risk_scores

# --- normalize_merchant_name ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Café Nero Ltd.", "cafe nero"),
        ("ACME  Corp", "acme"),
        ("Müller GmbH", "muller"),
        ("Amazon.com, Inc.", "amazon com"),
        ("  Zoë Bakery LLC ", "zoe bakery"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("Foo Holdings L.L.C.", "foo holdings"),
        ("Nestlé S.A.", "nestle"),
        ("Acme Co. Ltd", "acme"),
        ("Straße Shop", "strasse shop"),
        ("INC", "inc"),  # only a suffix: kept, not emptied
        ("Incognito Inc", "incognito"),  # suffix words only at the end, whole words
        ("  ", None),
        ("", None),
        ("!!!", None),
        (None, None),
        (42, None),
        (float("nan"), None),
    ],
)
def test_normalize_merchant_name(raw: object, expected: str | None) -> None:
    assert normalize_merchant_name(raw) == expected


@pytest.mark.parametrize("raw", ["Café Nero Ltd.", "ACME  Corp", "Amazon.com, Inc.", "INC"])
def test_normalize_merchant_name_is_idempotent(raw: str) -> None:
    once = normalize_merchant_name(raw)
    assert normalize_merchant_name(once) == once


def test_normalized_names_are_lower_ascii_single_spaced() -> None:
    for raw in ["ÀÉÎõü  Trading GmbH", "Æon — Store", "Ｆｕｌｌ Ｗｉｄｔｈ Ltd"]:
        out = normalize_merchant_name(raw)
        assert out is not None
        assert out == out.lower().strip()
        assert "  " not in out
        assert out.isascii()
    assert normalize_merchant_name("Ｆｕｌｌ Ｗｉｄｔｈ Ltd") == "full width"


# --- transaction_risk_score -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "hour", "cross", "expected"),
    [
        # 0.5 * (1 - exp(-amount / 500)) + 0.25 * night + 0.25 * cross-border, 4 decimals
        (0.0, 12, False, 0.0),  # 0 + 0 + 0
        (1000.0, 3, True, 0.9323),  # 0.5 * (1 - e^-2) = 0.43233 + 0.25 + 0.25
        (250.0, 22, False, 0.3217),  # 0.5 * (1 - e^-0.5) = 0.19673 + 0.25 * 0.5
        (10_000.0, 5, True, 1.0),  # 0.5 * (1 - e^-20) ~ 0.5 + 0.25 + 0.25
        (1, 6, 0, 0.001),  # 0.5 * (1 - e^-0.002) = 0.000999
        (100.0, 3, True, 0.5906),  # 0.5 * (1 - e^-0.2) = 0.09063 + 0.25 + 0.25
    ],
)
def test_risk_score_by_hand(amount: float, hour: int, cross: bool, expected: float) -> None:
    assert transaction_risk_score(amount, hour, cross) == expected


def test_risk_score_bounds_and_monotonic_in_amount() -> None:
    scores = [transaction_risk_score(a, 2, True) for a in (0, 10, 100, 1_000, 1e9)]
    assert scores == sorted(scores)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert transaction_risk_score(0, 12, False) == 0.0
    assert transaction_risk_score(1e12, 0, True) == 1.0


@pytest.mark.parametrize(
    ("amount", "hour", "cross"),
    [
        (None, 3, True),
        (-1.0, 3, True),
        (float("nan"), 3, True),
        (float("inf"), 3, True),
        ("abc", 3, True),
        (True, 3, True),
        (10.0, None, True),
        (10.0, 24, True),
        (10.0, -1, True),
        (10.0, 3.5, True),
        (10.0, "noon", True),
        (10.0, 3, "maybe"),
        (10.0, 3, 7),
    ],
)
def test_risk_score_malformed_input_is_null(amount: object, hour: object, cross: object) -> None:
    assert transaction_risk_score(amount, hour, cross) is None


def test_risk_score_null_cross_border_counts_as_domestic() -> None:
    assert transaction_risk_score(100.0, 12, None) == 0.0906  # 0.5 * (1 - e^-0.2)
    assert transaction_risk_score(100.0, 12, False) == 0.0906
    assert transaction_risk_score("100", "12", "true") == 0.3406  # + 0.25 cross-border


def test_vectorized_risk_scores_agree_with_scalar_function() -> None:
    amounts = [0.0, 12.5, 999.99, 5e4, None, -3.0, float("nan"), "7", "x"]
    hours = [0, 5, 6, 21, 22, 23, 24, None, 3.5, "4"]
    flags = [True, False, None, "yes", "nope", 1, 0]
    rows = [(a, h, f) for a in amounts for h in hours for f in flags]
    got = transaction_risk_scores(
        pd.Series([r[0] for r in rows], dtype=object),
        pd.Series([r[1] for r in rows], dtype=object),
        pd.Series([r[2] for r in rows], dtype=object),
    )
    expected = [transaction_risk_score(*r) for r in rows]
    assert len(got) == len(rows)
    for row, value, want in zip(rows, got, expected, strict=True):
        if want is None:
            assert np.isnan(value), row
        else:
            assert value == pytest.approx(want, abs=1e-9), row


def test_vectorized_risk_scores_on_typed_series() -> None:
    got = transaction_risk_scores(
        pd.Series([100.0, np.nan, 10.0]),
        pd.Series([3, 3, 30], dtype="Int64").astype("float64"),
        pd.Series([True, False, True]),
    )
    assert got.iloc[0] == pytest.approx(0.5906, abs=1e-9)  # see test_risk_score_by_hand
    assert np.isnan(got.iloc[1]) and np.isnan(got.iloc[2])


# --- registered Spark UDFs --------------------------------------------------------------------


def test_register_all_registers_every_udf_by_name(spark: SparkSession) -> None:
    names = python_udfs.register_all(spark)
    assert names == sorted(["normalize_merchant_name", "transaction_risk_score"])
    listed = {r[0].split(".")[-1] for r in spark.sql("show user functions").collect()}
    assert set(names) <= listed


def test_spark_udfs_match_plain_functions(spark: SparkSession) -> None:
    python_udfs.register_all(spark)
    rows = [
        ("Café Nero Ltd.", 12.5, 9, False),
        ("ACME  Corp", 1500.0, 3, True),
        (None, None, 14, None),
        ("Zoë Bakery LLC", 40.0, 25, True),
        ("Inc.", -5.0, 2, False),
        ("Müller GmbH", 80.0, None, True),
    ]
    df = spark.createDataFrame(
        rows, "merchant_name string, amount double, hour_of_day int, is_cross_border boolean"
    )
    df.createOrReplaceTempView("udf_input")
    actual = spark.sql(
        """
        select
            merchant_name,
            normalize_merchant_name(merchant_name) as merchant_key,
            transaction_risk_score(amount, hour_of_day, is_cross_border) as risk_score
        from udf_input
        """
    )
    expected = spark.createDataFrame(
        [
            ("Café Nero Ltd.", "cafe nero", 0.0123),  # 0.5 * (1 - e^-0.025), day, domestic
            ("ACME  Corp", "acme", 0.9751),  # 0.5 * (1 - e^-3) + 0.25 night + 0.25 cross
            (None, None, None),  # null amount
            ("Zoë Bakery LLC", "zoe bakery", None),  # hour 25
            ("Inc.", "inc", None),  # only a suffix: kept; negative amount
            ("Müller GmbH", "muller", None),  # null hour
        ],
        "merchant_name string, merchant_key string, risk_score double",
    )
    assertDataFrameEqual(actual, expected)


def test_spark_risk_udf_on_malformed_string_input_gives_null(spark: SparkSession) -> None:
    python_udfs.register_all(spark)
    df = spark.createDataFrame(
        [("abc", "3", "true"), ("100", "noon", "false"), ("100", "3", "maybe"), ("100", "3", "1")],
        "amount string, hour_of_day string, is_cross_border string",
    )
    actual = df.selectExpr(
        "transaction_risk_score(amount, hour_of_day, is_cross_border) as risk_score"
    )
    expected = spark.createDataFrame([(None,), (None,), (None,), (0.5906,)], "risk_score double")
    assertDataFrameEqual(actual, expected)
