"""The latent "world" behind the synthetic data and the valid transaction stream.

See ``spark_analytics.datagen`` for the model description. This module holds the model's
constants, the per-customer latent traits, and the deterministic, chunk-size-independent row
generator (the arguments and seeded streams are in ``config``).

Determinism: every random draw comes from ``config.rng_for(seed, stream, ...)``. Transactions
are generated in fixed internal blocks of ``BLOCK_ROWS`` rows, each block with its own stream, so
the rows do not depend on ``chunk_rows`` (part files are slices of the same global sequence).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from spark_analytics.datagen.config import (
    STREAM_BLOCK,
    STREAM_CUSTOMERS,
    STREAM_MERCHANTS,
    DatagenConfig,
    rng_for,
)
from spark_analytics.datagen.entities import (
    CATEGORIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    ascii_fold,
    merchant_base_names,
    messy_merchant_name,
)

BLOCK_ROWS = 65_536

SEGMENTS = ("budget", "regular", "premium")
SEGMENT_SHARES = (0.45, 0.40, 0.15)
SEGMENT_LOG_SPEND = (5.15, 5.75, 6.35)  # mean log purchase amount of the segment
TXN_LOG_SD = 0.55  # within-customer spread of log amounts
SPLURGE_P, SPLURGE_LOG = 0.04, 1.1  # occasional big-ticket purchases
SIGNUP_BEFORE_P, SIGNUP_HISTORY_DAYS = 0.7, 730
CHURN_HORIZON_DAYS = 90  # churn dates are spread up to this many days past the window end
MIN_CENTS, MAX_CENTS = 100, 5_000_000
# weekday factors Monday..Sunday and hour-of-day profile (UTC)
WEEKDAY_FACTOR = np.array([0.90, 0.92, 0.97, 1.00, 1.12, 1.30, 1.10])
HOUR_WEIGHT = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.25,
        0.25,
        0.35,
        0.7,
        1.2,
        1.7,
        2.0,
        2.3,
        2.6,
        3.0,
        2.9,
        2.5,
        2.3,
        2.4,
        2.7,
        3.1,
        3.4,
        3.2,
        2.6,
        1.8,
        1.1,
    ]
)
HOUR_CDF = np.concatenate(([0.0], np.cumsum(HOUR_WEIGHT) / HOUR_WEIGHT.sum()))
TIME_JITTER_SECONDS = 600.0


def add_months(start: date, months: int) -> date:
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _cdf(weights: np.ndarray) -> np.ndarray:
    return np.cumsum(weights, dtype=np.float64)


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(idx, len(cdf) - 1)


def _id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


@dataclass
class World:
    """Latent traits of customers and merchants plus the calendar of the event window."""

    config: DatagenConfig
    start: date
    end: date  # exclusive
    n_days: int
    start_epoch: int
    # customers (index i <-> customer_id c{i+1:07d})
    segment: np.ndarray
    activity: np.ndarray  # relative purchase rate while active
    spend_mu: np.ndarray  # mean log purchase amount
    churn_p: np.ndarray  # probability of churning at some point
    signup_day: np.ndarray  # relative to start (negative: signed up before the window)
    churn_day: np.ndarray  # relative to start; no purchases from that day on (huge: never)
    active_from: np.ndarray
    active_until: np.ndarray  # exclusive, clipped to the window
    customer_cdf: np.ndarray
    # merchants (index j <-> merchant_id m{j+1:05d})
    merchant_category: np.ndarray
    merchant_cdf: np.ndarray
    # rows [day_row_start[d], day_row_start[d+1]) happen on day d
    day_row_start: np.ndarray
    customer_ids: pa.Array = field(repr=False)
    merchant_ids: pa.Array = field(repr=False)
    category_offset: np.ndarray = field(repr=False)


def build_world(config: DatagenConfig) -> World:
    config.validate()
    start = date.fromisoformat(config.start_date)
    end = add_months(start, config.months)
    n_days = (end - start).days
    n_c, n_m = config.n_customers, config.n_merchants

    rng = rng_for(config.seed, STREAM_CUSTOMERS)
    segment = rng.choice(len(SEGMENTS), size=n_c, p=SEGMENT_SHARES).astype(np.int8)
    spend_mu = np.asarray(SEGMENT_LOG_SPEND)[segment] + rng.normal(0.0, 0.3, n_c)
    # heavy-tailed (Zipf-like) activity: lognormal body times a Pareto tail
    activity = np.exp(rng.normal(0.0, 0.7, n_c)) * (1.0 + rng.pareto(1.6, n_c))
    log_act = np.log(activity)
    z_act = (log_act - log_act.mean()) / (log_act.std() or 1.0)
    churn_p = 1.0 / (1.0 + np.exp(-(-0.7 - 0.9 * z_act + rng.normal(0.0, 0.6, n_c))))
    before = rng.random(n_c) < SIGNUP_BEFORE_P
    signup_day = np.where(
        before,
        -rng.integers(1, SIGNUP_HISTORY_DAYS + 1, n_c),
        rng.integers(0, n_days, n_c),
    ).astype(np.int64)
    active_from = np.maximum(signup_day, 0)
    churns = rng.random(n_c) < churn_p
    churn_offset = rng.integers(1, n_days + CHURN_HORIZON_DAYS + 1, n_c)
    never = np.iinfo(np.int32).max
    churn_day = np.where(churns, active_from + churn_offset, never).astype(np.int64)
    active_until = np.minimum(churn_day, n_days)

    mrng = rng_for(config.seed, STREAM_MERCHANTS)
    shares = np.array([c.share for c in CATEGORIES])
    merchant_category = mrng.choice(len(CATEGORIES), size=n_m, p=shares / shares.sum())
    popularity = 1.0 / np.arange(1, n_m + 1) ** 0.9
    popularity = popularity[mrng.permutation(n_m)]

    # expected purchase intensity per day: active activity mass x weekday x gentle growth
    starts = np.bincount(active_from, weights=activity, minlength=n_days + 1)[: n_days + 1]
    ends = np.bincount(active_until, weights=activity, minlength=n_days + 1)[: n_days + 1]
    active_mass = np.cumsum(starts - ends)[:n_days]
    weekdays = (start.weekday() + np.arange(n_days)) % 7
    day_of_month = np.array([(start + timedelta(days=int(d))).day for d in range(n_days)])
    intensity = (
        active_mass
        * WEEKDAY_FACTOR[weekdays]
        * (1.0 + 0.15 * np.arange(n_days) / n_days)
        * np.where(np.isin(day_of_month, (1, 15, 28)), 1.12, 1.0)  # pay days
    )
    intensity = np.maximum(intensity, 0.0)
    cum = np.cumsum(intensity)
    day_row_start = np.zeros(n_days + 1, dtype=np.int64)
    day_row_start[1:] = np.floor(config.rows * cum / cum[-1]).astype(np.int64)
    day_row_start[-1] = config.rows
    day_row_start = np.maximum.accumulate(day_row_start)

    return World(
        config=config,
        start=start,
        end=end,
        n_days=n_days,
        start_epoch=calendar.timegm(start.timetuple()),
        segment=segment,
        activity=activity,
        spend_mu=spend_mu,
        churn_p=churn_p,
        signup_day=signup_day,
        churn_day=churn_day,
        active_from=active_from,
        active_until=active_until,
        customer_cdf=_cdf(activity),
        merchant_category=merchant_category,
        merchant_cdf=_cdf(popularity),
        day_row_start=day_row_start,
        customer_ids=_id_strings("c", np.arange(1, n_c + 1), 7),
        merchant_ids=_id_strings("m", np.arange(1, n_m + 1), 5),
        category_offset=np.array([c.log_amount_offset for c in CATEGORIES]),
    )


@dataclass
class Rows:
    """A slice of the valid transaction stream as numpy columns (global row order)."""

    tx_num: np.ndarray  # 1-based transaction number -> t{tx_num:012d}
    customer: np.ndarray  # customer index
    merchant: np.ndarray  # merchant index
    cents: np.ndarray
    epoch: np.ndarray  # seconds since 1970-01-01 UTC

    def __len__(self) -> int:
        return len(self.tx_num)

    def slice(self, lo: int, hi: int) -> Rows:
        return Rows(*(a[lo:hi] for a in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.tx_num, self.customer, self.merchant, self.cents, self.epoch)

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(
            *(np.concatenate(cols) for cols in zip(*(p._columns() for p in parts), strict=True))
        )


def _draw_active_customers(rng: np.random.Generator, world: World, day: np.ndarray) -> np.ndarray:
    """Customers drawn proportionally to activity among those active on each row's day."""
    customer = np.empty(len(day), dtype=np.int64)
    pending = np.arange(len(day))
    for _ in range(100_000):
        if len(pending) == 0:
            return customer
        cand = _draw(rng, world.customer_cdf, len(pending))
        d = day[pending]
        ok = (world.active_from[cand] <= d) & (d < world.active_until[cand])
        customer[pending[ok]] = cand[ok]
        pending = pending[~ok]
    raise RuntimeError("could not draw active customers (no customer active on some day?)")


def generate_block(world: World, block: int) -> Rows:
    """Rows [block * BLOCK_ROWS, ...) of the global stream, roughly sorted by event time."""
    lo = block * BLOCK_ROWS
    hi = min(lo + BLOCK_ROWS, world.config.rows)
    n = hi - lo
    rng = rng_for(world.config.seed, STREAM_BLOCK, block)
    index = np.arange(lo, hi)
    day = np.searchsorted(world.day_row_start, index, side="right") - 1
    # the k-th of a day's n rows sits at quantile (k + u) / n of the hour-of-day profile, so the
    # stream is ordered by time; a Gaussian jitter on the event time makes the order only rough
    day_start, day_rows = world.day_row_start[day], np.diff(world.day_row_start)[day]
    quantile = (index - day_start + rng.random(n)) / day_rows
    second = np.interp(quantile, HOUR_CDF, np.arange(25) * 3600.0)
    second = second + rng.normal(0.0, TIME_JITTER_SECONDS, n)
    second = np.clip(np.floor(second), 0, 86_399).astype(np.int64)
    customer = _draw_active_customers(rng, world, day)
    merchant = _draw(rng, world.merchant_cdf, n)
    log_amount = (
        world.spend_mu[customer]
        + world.category_offset[world.merchant_category[merchant]]
        + rng.normal(0.0, TXN_LOG_SD, n)
        + (rng.random(n) < SPLURGE_P) * SPLURGE_LOG
    )
    cents = np.clip(np.rint(np.exp(log_amount) * 100.0), MIN_CENTS, MAX_CENTS).astype(np.int64)
    return Rows(
        tx_num=np.arange(lo + 1, hi + 1, dtype=np.int64),
        customer=customer,
        merchant=merchant.astype(np.int64),
        cents=cents,
        epoch=world.start_epoch + day.astype(np.int64) * 86_400 + second,
    )


class RowSource:
    """Random access to row ranges of the global stream, caching the two latest blocks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._cache: dict[int, Rows] = {}

    def block(self, index: int) -> Rows:
        if index not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(min(self._cache))
            self._cache[index] = generate_block(self.world, index)
        return self._cache[index]

    def rows(self, lo: int, hi: int) -> Rows:
        parts = []
        for b in range(lo // BLOCK_ROWS, (hi - 1) // BLOCK_ROWS + 1):
            b_lo = b * BLOCK_ROWS
            parts.append(
                self.block(b).slice(max(lo, b_lo) - b_lo, min(hi, b_lo + BLOCK_ROWS) - b_lo)
            )
        return parts[0] if len(parts) == 1 else Rows.concat(parts)


def chunk_bounds(rows: int, chunk_rows: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + chunk_rows, rows)) for lo in range(0, rows, chunk_rows)]


def rows_to_arrow(world: World, rows: Rows) -> pa.Table:
    """Typed table: ids as strings, amount as double, event_time as timestamp[us, UTC]."""
    return pa.table(
        {
            "transaction_id": _id_strings("t", rows.tx_num, 12),
            "customer_id": world.customer_ids.take(pa.array(rows.customer)),
            "merchant_id": world.merchant_ids.take(pa.array(rows.merchant)),
            "purchase_amount": pa.array(rows.cents / 100.0, pa.float64()),
            "event_time": pa.array(rows.epoch * 1_000_000, pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )


def iter_transaction_chunks(config: DatagenConfig) -> Iterator[pd.DataFrame]:
    """Valid transactions, ``config.chunk_rows`` per DataFrame, exactly as written to disk.

    Columns: transaction_id, customer_id, merchant_id (str), purchase_amount (float64, 2
    decimals), event_time (datetime64[us, UTC]). Bad rows are never included.
    """
    world = build_world(config)
    source = RowSource(world)
    for lo, hi in chunk_bounds(config.rows, config.chunk_rows):
        yield rows_to_arrow(world, source.rows(lo, hi)).to_pandas()


@dataclass
class CustomerDraws:
    """Per-customer indices into FIRST_NAMES, LAST_NAMES, COUNTRIES and EMAIL_DOMAINS."""

    first: np.ndarray
    last: np.ndarray
    country: np.ndarray
    domain: np.ndarray


def customer_draws(world: World) -> CustomerDraws:
    """The random attribute draws of the world's customers (stream STREAM_CUSTOMERS, 1)."""
    n_c = world.config.n_customers
    rng = rng_for(world.config.seed, STREAM_CUSTOMERS, 1)
    first_all = rng.integers(0, len(FIRST_NAMES), n_c)
    last_all = rng.integers(0, len(LAST_NAMES), n_c)
    weights = np.array([w for _, w in COUNTRIES])
    country_all = rng.choice(len(COUNTRIES), size=n_c, p=weights / weights.sum())
    domain_all = rng.integers(0, len(EMAIL_DOMAINS), n_c)
    return CustomerDraws(first_all, last_all, country_all, domain_all)


def customers_table(
    ids: pa.Array, number: np.ndarray, draws: CustomerDraws, signup: np.ndarray
) -> pa.Table:
    """Customer rows: ``number`` is the customer number in the e-mail, ``signup`` datetime64[D]."""
    first_a, last_a = pa.array(FIRST_NAMES), pa.array(LAST_NAMES)
    first_f = pa.array([ascii_fold(x) for x in FIRST_NAMES])
    last_f = pa.array([ascii_fold(x) for x in LAST_NAMES])
    countries, domains = pa.array([c for c, _ in COUNTRIES]), pa.array(EMAIL_DOMAINS)
    first, last = pa.array(draws.first), pa.array(draws.last)
    email = pc.binary_join_element_wise(
        first_f.take(first),
        ".",
        last_f.take(last),
        pc.cast(pa.array(number), pa.string()),
        "@",
        domains.take(pa.array(draws.domain)),
        "",
    )
    return pa.table(
        {
            "customer_id": ids,
            "customer_name": pc.binary_join_element_wise(
                first_a.take(first), last_a.take(last), " "
            ),
            "email": email,
            "country": countries.take(pa.array(draws.country)),
            "signup_date": pc.strftime(pa.array(signup), format="%Y-%m-%d"),
        }
    )


def iter_customer_tables(world: World, chunk_rows: int) -> Iterator[pa.Table]:
    """Customer attributes (customer_id, customer_name, email, country, signup_date) in chunks."""
    draws = customer_draws(world)
    for lo, hi in chunk_bounds(world.config.n_customers, chunk_rows):
        signup = world.signup_day[lo:hi].astype("timedelta64[D]") + np.datetime64(world.start)
        chunk = CustomerDraws(
            draws.first[lo:hi], draws.last[lo:hi], draws.country[lo:hi], draws.domain[lo:hi]
        )
        yield customers_table(world.customer_ids[lo:hi], np.arange(lo + 1, hi + 1), chunk, signup)


def merchants_table(world: World) -> pa.Table:
    rng = rng_for(world.config.seed, STREAM_MERCHANTS, 1)
    bases = merchant_base_names(rng, world.merchant_category)
    names = [messy_merchant_name(rng, b) for b in bases]
    weights = np.array([w for _, w in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=len(names), p=weights / weights.sum())
    return pa.table(
        {
            "merchant_id": world.merchant_ids,
            "merchant_name": pa.array(names, pa.string()),
            "category_code": pa.array([CATEGORIES[c].code for c in world.merchant_category]),
            "country": pa.array([COUNTRIES[c][0] for c in country]),
        }
    )


def customer_traits(config: DatagenConfig) -> pd.DataFrame:
    """The hidden ground truth per customer (not written to the output): for ML sanity checks."""
    world = build_world(config)
    never = world.churn_day >= np.iinfo(np.int32).max
    churn_date = np.where(
        never,
        np.datetime64("NaT"),
        world.churn_day.astype("timedelta64[D]") + np.datetime64(world.start),
    )
    return pd.DataFrame(
        {
            "customer_id": world.customer_ids.to_pylist(),
            "segment": np.asarray(SEGMENTS)[world.segment],
            "activity_rate": world.activity,
            "spend_log_mean": world.spend_mu,
            "churn_probability": world.churn_p,
            "signup_date": world.signup_day.astype("timedelta64[D]") + np.datetime64(world.start),
            "churn_date": churn_date,
        }
    )
