"""Later versions of the customers and merchants files: ``--entity-version N``.

Version 1 is what the generator has always written. Version N is version 1 after the change
steps 2, ..., N, each drawn from its own stream ``rng_for(seed, STREAM_VERSIONS, step, 0)``
(customers) and ``(..., step, 1)`` (merchants), so every version is deterministic for a seed and
version N + 1 extends version N. The number of entities a step touches is
``config.entity_step_sizes`` of the version-1 counts (e.g. 1000 customers and 50 merchants: 20
country changes, 20 e-mail changes, 5 deletions and 10 new customers; 2 category changes,
2 renames, 1 deletion and 1 new merchant). A step, in this order:

customers
  1. restored: the customers deleted by the previous step come back, as they were;
  2. deleted: the least active (latent activity) customers never deleted before;
  3. country changed: customers drawn among the present ones (not restored in this step) move
     to another country;
  4. e-mail changed: customers drawn likewise get another e-mail domain;
  5. added: new customers ``c<next number>``, signed up after the event window.
merchants
  1. restored, 2. deleted (the least popular never deleted before), 3. category_code changed
  (another category), 4. merchant_name changed (another messy brand name), 5. added.

Rows keep version 1's order (deleted ones left out), new rows at the end. The transactions are
the same for every version: a deleted customer's or merchant's transactions become
``unknown_customer_id`` / ``unknown_merchant_id`` rows in the project's quarantine (few: the
least active ones are deleted). The manifest of a version N > 1 lists every step's changed ids
(``entity_changes``). Unlike version 1, which is streamed, a version N > 1 holds the customers in
memory (a few hundred bytes each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spark_analytics.datagen.config import STREAM_VERSIONS, entity_step_sizes, rng_for
from spark_analytics.datagen.entities import (
    CATEGORIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MERCHANT_ADJECTIVES,
    messy_merchant_name,
)
from spark_analytics.datagen.world import (
    CustomerDraws,
    World,
    _id_strings,
    customer_draws,
    customers_table,
    merchants_table,
)

CUSTOMERS, MERCHANTS = 0, 1  # third element of the version streams' entropy


@dataclass(frozen=True)
class EntityVersion:
    """One entity's rows at a version, and per change step the ids it touched."""

    table: pa.Table
    changes: list[dict[str, object]]


def _country_weights() -> np.ndarray:
    weights = np.array([w for _, w in COUNTRIES])
    return weights / weights.sum()


def _pick(rng: np.random.Generator, candidates: np.ndarray, size: int) -> np.ndarray:
    size = min(size, len(candidates))
    return np.sort(rng.choice(candidates, size=size, replace=False)) if size else candidates[:0]


def _least(order: np.ndarray, present: np.ndarray, deleted_ever: np.ndarray, size: int):
    """The first ``size`` indices of ``order`` that are present and were never deleted."""
    eligible = order[present[order] & ~deleted_ever[order]]
    return np.sort(eligible[:size])


def customers_version(world: World, version: int) -> EntityVersion:
    config = world.config
    sizes = entity_step_sizes(config.n_customers, config.n_merchants)
    draws = customer_draws(world)
    first, last = draws.first.copy(), draws.last.copy()
    country, domain = draws.country.copy(), draws.domain.copy()
    signup = world.signup_day.astype("timedelta64[D]") + np.datetime64(world.start)
    present = np.ones(config.n_customers, dtype=bool)
    deleted_ever = np.zeros(config.n_customers, dtype=bool)
    by_activity = np.argsort(world.activity, kind="stable")  # version-1 customers only
    deleted = np.array([], dtype=np.int64)
    changes: list[dict[str, object]] = []

    def ids(index: np.ndarray) -> list[str]:
        return [f"c{int(i) + 1:07d}" for i in index]

    for step in range(2, version + 1):
        rng = rng_for(config.seed, STREAM_VERSIONS, step, CUSTOMERS)
        restored = deleted
        present[restored] = True
        deleted = _least(by_activity, present, deleted_ever, sizes["customers_deleted"])
        present[deleted] = False
        deleted_ever[deleted] = True
        changeable = np.setdiff1d(np.flatnonzero(present), restored)
        moved = _pick(rng, changeable, sizes["customers_country"])
        country[moved] = (country[moved] + rng.integers(1, len(COUNTRIES), len(moved))) % len(
            COUNTRIES
        )
        emailed = _pick(rng, changeable, sizes["customers_email"])
        domain[emailed] = (
            domain[emailed] + rng.integers(1, len(EMAIL_DOMAINS), len(emailed))
        ) % len(EMAIL_DOMAINS)
        n_add, start = sizes["customers_added"], len(present)
        first = np.concatenate([first, rng.integers(0, len(FIRST_NAMES), n_add)])
        last = np.concatenate([last, rng.integers(0, len(LAST_NAMES), n_add)])
        country = np.concatenate(
            [country, rng.choice(len(COUNTRIES), size=n_add, p=_country_weights())]
        )
        domain = np.concatenate([domain, rng.integers(0, len(EMAIL_DOMAINS), n_add)])
        joined = np.datetime64(world.end) + np.timedelta64(7 * (step - 2), "D")
        signup = np.concatenate([signup, np.full(n_add, joined)])
        present = np.concatenate([present, np.ones(n_add, dtype=bool)])
        deleted_ever = np.concatenate([deleted_ever, np.zeros(n_add, dtype=bool)])
        changes.append(
            {
                "version": step,
                "restored": ids(restored),
                "deleted": ids(deleted),
                "country_changed": ids(moved),
                "email_changed": ids(emailed),
                "added": ids(np.arange(start, start + n_add)),
            }
        )

    keep = np.flatnonzero(present)
    table = customers_table(
        _id_strings("c", keep + 1, 7),
        keep + 1,
        CustomerDraws(first[keep], last[keep], country[keep], domain[keep]),
        signup[keep],
    )
    return EntityVersion(table, changes)


def _new_name(rng: np.random.Generator, category: int, old: str | None) -> str:
    """A messy spelling of a new brand name of the category, different from ``old``."""
    kinds = CATEGORIES[category].kinds
    while True:
        adjective = MERCHANT_ADJECTIVES[int(rng.integers(len(MERCHANT_ADJECTIVES)))]
        name = messy_merchant_name(rng, f"{adjective} {kinds[int(rng.integers(len(kinds)))]}")
        if name != old:
            return name


def merchants_version(world: World, version: int) -> EntityVersion:
    config = world.config
    sizes = entity_step_sizes(config.n_customers, config.n_merchants)
    base = merchants_table(world)
    names: list[str] = base.column("merchant_name").to_pylist()
    countries: list[str] = base.column("country").to_pylist()
    category = world.merchant_category.astype(np.int64)  # a copy
    present = np.ones(config.n_merchants, dtype=bool)
    deleted_ever = np.zeros(config.n_merchants, dtype=bool)
    popularity = np.diff(world.merchant_cdf, prepend=0.0)
    by_popularity = np.argsort(popularity, kind="stable")  # version-1 merchants only
    shares = np.array([c.share for c in CATEGORIES])
    deleted = np.array([], dtype=np.int64)
    changes: list[dict[str, object]] = []

    def ids(index: np.ndarray) -> list[str]:
        return [f"m{int(i) + 1:05d}" for i in index]

    for step in range(2, version + 1):
        rng = rng_for(config.seed, STREAM_VERSIONS, step, MERCHANTS)
        restored = deleted
        present[restored] = True
        deleted = _least(by_popularity, present, deleted_ever, sizes["merchants_deleted"])
        present[deleted] = False
        deleted_ever[deleted] = True
        changeable = np.setdiff1d(np.flatnonzero(present), restored)
        recategorised = _pick(rng, changeable, sizes["merchants_category"])
        category[recategorised] = (
            category[recategorised] + rng.integers(1, len(CATEGORIES), len(recategorised))
        ) % len(CATEGORIES)
        renamed = _pick(rng, changeable, sizes["merchants_name"])
        for j in renamed:
            names[j] = _new_name(rng, int(category[j]), names[j])
        n_add, start = sizes["merchants_added"], len(present)
        added_category = rng.choice(len(CATEGORIES), size=n_add, p=shares / shares.sum())
        names.extend(_new_name(rng, int(c), None) for c in added_category)
        added_country = rng.choice(len(COUNTRIES), size=n_add, p=_country_weights())
        countries.extend(COUNTRIES[int(c)][0] for c in added_country)
        category = np.concatenate([category, added_category])
        present = np.concatenate([present, np.ones(n_add, dtype=bool)])
        deleted_ever = np.concatenate([deleted_ever, np.zeros(n_add, dtype=bool)])
        changes.append(
            {
                "version": step,
                "restored": ids(restored),
                "deleted": ids(deleted),
                "category_changed": ids(recategorised),
                "name_changed": ids(renamed),
                "added": ids(np.arange(start, start + n_add)),
            }
        )

    keep = np.flatnonzero(present)
    table = pa.table(
        {
            "merchant_id": _id_strings("m", keep + 1, 5),
            "merchant_name": pa.array([names[i] for i in keep], pa.string()),
            "category_code": pa.array([CATEGORIES[int(category[i])].code for i in keep]),
            "country": pa.array([countries[i] for i in keep]),
        }
    )
    return EntityVersion(table, changes)
