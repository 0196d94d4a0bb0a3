"""normalize_merchant_name: a scalar Python UDF.

The logic is the plain function ``normalize_merchant_name``; ``spark_udf`` wraps it for Spark.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

NAME = "normalize_merchant_name"

# Legal-form suffixes dropped from the end of a name (after punctuation is removed).
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "gmbh",
        "corp",
        "corporation",
        "co",
        "plc",
        "ag",
        "sa",
        "sarl",
        "bv",
        "nv",
        "srl",
        "spa",
        "oy",
        "ab",
        "kg",
        "lp",
        "llp",
        "pty",
    }
)
# "S.A." -> "sa", "L.L.C." -> "llc": dots between letters are joined before splitting.
_DOTTED = re.compile(r"(?<=\b\w)\.(?=\w\b)")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ß", "ss")


def normalize_merchant_name(name: Any) -> str | None:
    """Canonical merchant name: lower case, no accents, no punctuation, single spaces,
    trailing legal suffixes (Inc, LLC, Ltd, GmbH, ...) removed. None, non-strings and names
    with nothing left give None. A name that is only a suffix ("Inc.") is kept as is.
    """
    if not isinstance(name, str):
        return None
    text = strip_accents(name).lower().replace("&", " and ")
    text = _DOTTED.sub("", text)
    tokens = _NON_ALNUM.sub(" ", text).split()
    while len(tokens) > 1 and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
    return " ".join(tokens) or None


def spark_udf():  # -> pyspark UserDefinedFunction (imported lazily: pure tests need no Spark)
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    return udf(normalize_merchant_name, StringType(), useArrow=True)
