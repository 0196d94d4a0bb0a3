"""transaction_risk_score: a vectorized (pandas) Python UDF.

score = 0.50 * amount part + 0.25 * night part + 0.25 * cross-border part, in [0, 1], 4 decimals:
- amount part: 1 - exp(-amount / 500) (0 for 0, ~0.86 for 1000, -> 1 for large amounts);
- night part: 1 for hours 0-5, 0.5 for hours 22-23, else 0;
- cross-border part: 1 if the customer's and the merchant's countries differ, else 0.

Null-safe and never raises on bad values: a null, negative, NaN/inf or non-numeric amount, or an
hour that is null, not an integer or outside 0-23, gives a null score. A null cross-border flag
counts as domestic; a flag that is not a boolean (or 0/1, "true"/"false") gives a null score.

``transaction_risk_score`` (one row, plain Python) and ``transaction_risk_scores`` (pandas
Series, numpy) are the logic; ``spark_udf`` wraps the vectorized one as a pandas_udf.
"""

import math
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

NAME = "transaction_risk_score"
AMOUNT_SCALE = 500.0
WEIGHTS = (0.50, 0.25, 0.25)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _night_part(hour: int) -> float:
    if hour <= 5:
        return 1.0
    if hour >= 22:
        return 0.5
    return 0.0


def _flag(value: Any) -> float | None:
    """1.0 / 0.0 for a boolean-like value, 0.0 for null, None when malformed."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return 0.0
    if isinstance(value, bool | np.bool_):
        return float(bool(value))
    if isinstance(value, Real) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return 1.0 if value.strip().lower() in _TRUE else 0.0
    return None


def transaction_risk_score(
    amount: Any, hour_of_day: Any, is_cross_border: Any = None
) -> float | None:
    """Risk score of one transaction (see the module docstring), or None."""
    try:
        amt = float(amount)
        hour = float(hour_of_day)
    except (TypeError, ValueError):
        return None
    if isinstance(amount, bool) or not math.isfinite(amt) or amt < 0:
        return None
    if not math.isfinite(hour) or hour != int(hour) or not 0 <= hour <= 23:
        return None
    cross = _flag(is_cross_border)
    if cross is None:
        return None
    w_amount, w_night, w_cross = WEIGHTS
    score = (
        w_amount * (1.0 - math.exp(-amt / AMOUNT_SCALE))
        + w_night * _night_part(int(hour))
        + w_cross * cross
    )
    return round(min(max(score, 0.0), 1.0), 4)


def transaction_risk_scores(
    amount: pd.Series, hour_of_day: pd.Series, is_cross_border: pd.Series
) -> pd.Series:
    """Vectorized ``transaction_risk_score``: float64 Series, NaN where the score is null."""
    amt = pd.to_numeric(amount, errors="coerce").astype("float64").to_numpy()
    hour = pd.to_numeric(hour_of_day, errors="coerce").astype("float64").to_numpy()
    cross = is_cross_border.astype(object).map(_flag).astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        valid = (
            np.isfinite(amt)
            & (amt >= 0)
            & np.isfinite(hour)
            & (hour == np.floor(hour))
            & (hour >= 0)
            & (hour <= 23)
            & ~np.isnan(cross)
        )
        night = np.select([hour <= 5, hour >= 22], [1.0, 0.5], default=0.0)
        w_amount, w_night, w_cross = WEIGHTS
        score = w_amount * (1.0 - np.exp(-amt / AMOUNT_SCALE)) + w_night * night + w_cross * cross
    score = np.round(np.clip(score, 0.0, 1.0), 4)
    return pd.Series(np.where(valid, score, np.nan), index=amount.index, dtype="float64")


def spark_udf():  # -> pyspark UserDefinedFunction (imported lazily: pure tests need no Spark)
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def risk_score_udf(
        amount: pd.Series, hour_of_day: pd.Series, is_cross_border: pd.Series
    ) -> pd.Series:
        return transaction_risk_scores(amount, hour_of_day, is_cross_border)

    return risk_score_udf
