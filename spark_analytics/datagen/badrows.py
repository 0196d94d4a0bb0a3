"""Injected bad transaction rows: the plan (where, which reason) and their rendering per format.

Every bad row has exactly one defect; all its other fields are valid (an existing customer and
merchant, a positive 2-decimal amount, an event time inside the window). Bad rows are inserted
after a valid row (``after`` = its global index) and never change the valid rows.

Reasons (exact codes, used by the SQL quarantine models):

* ``malformed_row`` - CSV: wrong column count (an extra field, or the merchant_id field missing);
  JSON: a line that is not valid JSON (truncated, missing comma, or key=value text).
* ``non_numeric_amount`` - e.g. ``12,50`` (quoted in CSV), ``abc``, ``$12.50``, ``12.50 USD``.
  JSON: a string value.
* ``unparseable_event_time`` - e.g. ``2026-13-45 99:00:00``, ``yesterday``.
* ``null_amount`` - empty CSV field, JSON ``null``, parquet null.
* ``negative_amount`` - e.g. ``-12.50``.
* ``duplicate_transaction_id`` - an exact copy of a valid row written at most 100 rows earlier
  (the original stays valid; only the copy is bad). Each original is copied at most once.
* ``unknown_merchant_id`` - a merchant id in m90000-m99999, which never exists.

CSV and JSON share one plan (same positions, reasons and ids ``tbad00000001``...); parquet can only
hold the type-compatible reasons (``PARQUET_REASONS``) and has its own plan whose ids continue
after the text plan's (``tbad{K+1}``...), so every bad id is unique across the data set.

Checked with Spark 4.3: reading the CSV / JSON folders with an all-string schema plus a
``_corrupt_record`` column (mode PERMISSIVE, columnNameOfCorruptRecord) flags exactly the
malformed_row lines; ``try_cast(.. as double)`` and ``try_to_timestamp(.., 'yyyy-MM-dd HH:mm:ss')``
return null for every non-numeric amount and unparseable time used here.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from spark_analytics.datagen.config import STREAM_BAD, DatagenConfig, rng_for

MALFORMED = "malformed_row"
NON_NUMERIC = "non_numeric_amount"
BAD_TIME = "unparseable_event_time"
NULL_AMOUNT = "null_amount"
NEGATIVE = "negative_amount"
DUPLICATE = "duplicate_transaction_id"
UNKNOWN_MERCHANT = "unknown_merchant_id"

TEXT_REASONS = (
    MALFORMED,
    NON_NUMERIC,
    BAD_TIME,
    NULL_AMOUNT,
    NEGATIVE,
    DUPLICATE,
    UNKNOWN_MERCHANT,
)
PARQUET_REASONS = (NULL_AMOUNT, NEGATIVE, DUPLICATE, UNKNOWN_MERCHANT)
REASONS_BY_FORMAT = {"csv": TEXT_REASONS, "json": TEXT_REASONS, "parquet": PARQUET_REASONS}
# The defects one line shows on its own, without reference data or earlier rows: what the stream
# replay (spark_analytics.streaming.replay) injects into its JSON lines. Its duplicates are exact
# re-deliveries, which the event models deduplicate; unknown merchants are a dbt reference check.
STREAM_REASONS = (MALFORMED, NON_NUMERIC, BAD_TIME, NULL_AMOUNT, NEGATIVE)
FAMILY_TEXT, FAMILY_PARQUET = 0, 1
DUPLICATE_LOOKBACK = 100
BAD_TIMES = ("{y}-13-45 99:00:00", "yesterday", "not a date", "{y}-02-30 25:61:00", "0000-00-00")

CSV_HEADER = "transaction_id,customer_id,merchant_id,purchase_amount,event_time\n"


@dataclass(frozen=True)
class BadRow:
    after: int  # global index of the valid row this one follows
    reason: str
    transaction_id: str  # fresh tbad id, or the duplicated original's id
    source: int  # global index of the valid row whose customer/merchant/time it reuses
    variant: int  # which flavour of the defect (0, 1, 2, ... per reason)
    cents: int  # a valid positive amount for the non-amount defects
    delay: int  # seconds after the source row's event time
    unknown_merchant: int  # 90000..99999


def plan_bad_rows(
    config: DatagenConfig, reasons: tuple[str, ...], family: int, id_offset: int
) -> list[BadRow]:
    """``config.bad_rows`` bad rows, reasons as even as possible, spread over the whole stream."""
    k, n = config.bad_rows, config.rows
    if k == 0:
        return []
    rng = rng_for(config.seed, STREAM_BAD, family)
    counts = [k // len(reasons) + (i < k % len(reasons)) for i in range(len(reasons))]
    reason_idx = rng.permutation(np.repeat(np.arange(len(reasons)), counts))
    after = np.minimum(np.floor((np.arange(k) + rng.random(k)) * n / k).astype(np.int64), n - 1)
    lookback = rng.integers(0, DUPLICATE_LOOKBACK + 1, k)
    cents = np.rint(np.exp(rng.normal(4.0, 0.8, k)) * 100).astype(np.int64) + 100
    delay = rng.integers(0, 60, k)
    unknown = rng.integers(90_000, 100_000, k)
    used: set[int] = set()
    seen_per_reason: Counter[str] = Counter()
    plan, fresh = [], 0
    for i in range(k):
        reason = reasons[reason_idx[i]]
        variant = seen_per_reason[reason]  # cycle through a reason's flavours in file order
        seen_per_reason[reason] += 1
        a = int(after[i])
        if reason == DUPLICATE:
            source = _unused_source(a - min(int(lookback[i]), a), a, used)
            used.add(source)
            tx_id = f"t{source + 1:012d}"
        else:
            source = a
            fresh += 1
            tx_id = f"tbad{id_offset + fresh:08d}"
        plan.append(
            BadRow(
                a,
                reason,
                tx_id,
                source,
                variant,
                int(cents[i]),
                int(delay[i]),
                int(unknown[i]),
            )
        )
    return plan


def _unused_source(preferred: int, latest: int, used: set[int]) -> int:
    for candidate in itertools.chain(range(preferred, -1, -1), range(preferred + 1, latest + 1)):
        if candidate not in used:
            return candidate
    raise ValueError("too many duplicate_transaction_id rows for the number of valid rows")


def format_amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def format_time(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


@dataclass(frozen=True)
class Fields:
    """A valid row as text (what the bad row starts from)."""

    transaction_id: str
    customer_id: str
    merchant_id: str
    cents: int
    epoch: int


def csv_line(f: Fields, amount: str | None = None, event_time: str | None = None) -> str:
    amount = format_amount(f.cents) if amount is None else amount
    event_time = format_time(f.epoch) if event_time is None else event_time
    return f"{f.transaction_id},{f.customer_id},{f.merchant_id},{amount},{event_time}\n"


def json_line(f: Fields, amount: str | None = None, event_time: str | None = None) -> str:
    """``amount`` is raw JSON text (a number, ``null`` or a quoted string)."""
    amount = format_amount(f.cents) if amount is None else amount
    event_time = format_time(f.epoch) if event_time is None else event_time
    return (
        f'{{"transaction_id":"{f.transaction_id}","customer_id":"{f.customer_id}",'
        f'"merchant_id":"{f.merchant_id}","purchase_amount":{amount},'
        f'"event_time":{json.dumps(event_time)}}}\n'
    )


def non_numeric_amount(bad: BadRow) -> str:
    d, c = bad.cents // 100, bad.cents % 100
    options = (
        f"{d},{c:02d}",
        "abc",
        f"${d}.{c:02d}",
        f"{d}.{c:02d} USD",
        "twelve",
        f"{d}.{c:02d}.00",
    )
    return options[bad.variant % len(options)]


def bad_time(bad: BadRow, year: int) -> str:
    return BAD_TIMES[bad.variant % len(BAD_TIMES)].format(y=year)


def render_csv(bad: BadRow, f: Fields, year: int) -> str:
    if bad.reason == DUPLICATE:
        return csv_line(f)
    if bad.reason == MALFORMED:
        if bad.variant % 2 == 0:
            return csv_line(f).rstrip("\n") + ",unexpected_extra_field\n"
        return (
            f"{f.transaction_id},{f.customer_id},{format_amount(f.cents)},{format_time(f.epoch)}\n"
        )
    if bad.reason == NON_NUMERIC:
        value = non_numeric_amount(bad)
        return csv_line(f, amount=f'"{value}"' if "," in value else value)
    if bad.reason == BAD_TIME:
        return csv_line(f, event_time=bad_time(bad, year))
    if bad.reason == NULL_AMOUNT:
        return csv_line(f, amount="")
    if bad.reason == NEGATIVE:
        return csv_line(f, amount=format_amount(-f.cents))
    if bad.reason == UNKNOWN_MERCHANT:
        return csv_line(f)
    raise ValueError(f"unknown reason {bad.reason}")


def render_json(bad: BadRow, f: Fields, year: int) -> str:
    if bad.reason == MALFORMED:
        line = json_line(f)
        flavour = bad.variant % 3
        if flavour == 0:  # truncated object
            return line[: len(line) // 2] + "\n"
        if flavour == 1:  # missing comma between two members
            return line.replace('","merchant_id"', '" "merchant_id"', 1)
        return (
            f"transaction_id={f.transaction_id};customer_id={f.customer_id};"
            f"merchant_id={f.merchant_id};purchase_amount={format_amount(f.cents)}\n"
        )
    if bad.reason == NON_NUMERIC:
        return json_line(f, amount=json.dumps(non_numeric_amount(bad)))
    if bad.reason == BAD_TIME:
        return json_line(f, event_time=bad_time(bad, year))
    if bad.reason == NULL_AMOUNT:
        return json_line(f, amount="null")
    if bad.reason == NEGATIVE:
        return json_line(f, amount=format_amount(-f.cents))
    if bad.reason in (DUPLICATE, UNKNOWN_MERCHANT):
        return json_line(f)
    raise ValueError(f"unknown reason {bad.reason}")


def parquet_values(bad: BadRow, f: Fields) -> tuple[str, str, str, float | None, int]:
    """(transaction_id, customer_id, merchant_id, purchase_amount, epoch seconds)."""
    if bad.reason == NULL_AMOUNT:
        amount: float | None = None
    elif bad.reason == NEGATIVE:
        amount = -f.cents / 100.0
    elif bad.reason in (DUPLICATE, UNKNOWN_MERCHANT):
        amount = f.cents / 100.0
    else:
        raise ValueError(f"reason {bad.reason} cannot be represented in parquet")
    return f.transaction_id, f.customer_id, f.merchant_id, amount, f.epoch


def bad_fields(bad: BadRow, source: Fields, end_epoch: int) -> Fields:
    """The fields a bad row starts from: the source row itself for duplicates, otherwise a fresh
    id, the source row's customer and merchant, a fresh amount and a slightly later time."""
    if bad.reason == DUPLICATE:
        return source
    merchant = f"m{bad.unknown_merchant:05d}" if bad.reason == UNKNOWN_MERCHANT else None
    return Fields(
        transaction_id=bad.transaction_id,
        customer_id=source.customer_id,
        merchant_id=merchant or source.merchant_id,
        cents=bad.cents,
        epoch=min(source.epoch + bad.delay, end_epoch - 1),
    )
