"""The generator's arguments (``DatagenConfig``), their limits and the seeded random streams.

Determinism: every random draw comes from a ``numpy.random.PCG64`` seeded with a
``SeedSequence((seed, stream, ...))``; the streams are the ``STREAM_*`` constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

FORMATS = ("csv", "json", "parquet")
MAX_CUSTOMERS = 9_999_999  # c + 7 digits
MAX_MERCHANTS = 89_999  # m + 5 digits; m90000-m99999 are reserved for unknown-merchant bad rows
MAX_ROWS = 999_999_999_999  # t + 12 digits
MAX_CHUNK_ROWS = 5_000_000  # keeps a part's rendered text under 2 GiB (32-bit arrow offsets)
MAX_ENTITY_VERSION = 100
# `--bad-rows auto` (`make data`, `make run`): this many per format, or 1 % of the rows when
# that is fewer, so a small --rows stays under the quarantine's 5 % limit
# (tests/generic/quarantine_share_below.sql).
AUTO_BAD_ROWS = 100


def auto_bad_rows(rows: int) -> int:
    """The bad rows per format of ``--bad-rows auto`` for ``rows`` valid transactions."""
    return min(AUTO_BAD_ROWS, rows // 100)


# seed streams (second element of the SeedSequence entropy)
STREAM_CUSTOMERS, STREAM_MERCHANTS, STREAM_BLOCK, STREAM_BAD, STREAM_VERSIONS = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class DatagenConfig:
    """Arguments of the generator (``None`` customers/merchants means the default)."""

    rows: int = 1_000_000
    seed: int = 42
    out: str = "data/generated"
    customers: int | None = None
    merchants: int | None = None
    months: int = 6
    start_date: str = "2026-01-01"
    bad_rows: int = 0
    formats: tuple[str, ...] = FORMATS
    chunk_rows: int = 500_000
    # 1: the customers and merchants as generated; N > 1: their state after the N - 1 change
    # steps of spark_analytics.datagen.versions (transactions never change)
    entity_version: int = 1

    @property
    def n_customers(self) -> int:
        return self.customers if self.customers is not None else max(1000, self.rows // 20)

    @property
    def n_merchants(self) -> int:
        if self.merchants is not None:
            return self.merchants
        return min(5000, max(50, self.rows // 2000))

    def validate(self) -> DatagenConfig:
        problems = []
        if not 1 <= self.rows <= MAX_ROWS:
            problems.append(f"--rows must be in [1, {MAX_ROWS}], got {self.rows}")
        if not 1 <= self.n_customers <= MAX_CUSTOMERS:
            problems.append(f"--customers must be in [1, {MAX_CUSTOMERS}]")
        if not 1 <= self.n_merchants <= MAX_MERCHANTS:
            problems.append(f"--merchants must be in [1, {MAX_MERCHANTS}]")
        if not 1 <= self.months <= 120:
            problems.append("--months must be in [1, 120]")
        if not 0 <= self.bad_rows <= self.rows:
            problems.append(
                f"--bad-rows must be in [0, --rows] = [0, {self.rows}], got {self.bad_rows}"
            )
        if not 1 <= self.chunk_rows <= MAX_CHUNK_ROWS:
            problems.append(f"--chunk-rows must be in [1, {MAX_CHUNK_ROWS}]")
        if not 1 <= self.entity_version <= MAX_ENTITY_VERSION:
            problems.append(f"--entity-version must be in [1, {MAX_ENTITY_VERSION}]")
        elif self.entity_version > 1:
            sizes = entity_step_sizes(self.n_customers, self.n_merchants)
            steps = self.entity_version - 1
            if self.n_customers + steps * sizes["customers_added"] > MAX_CUSTOMERS:
                problems.append(f"--entity-version adds customers beyond {MAX_CUSTOMERS}")
            if self.n_merchants + steps * sizes["merchants_added"] > MAX_MERCHANTS:
                problems.append(f"--entity-version adds merchants beyond {MAX_MERCHANTS}")
        if not 0 <= self.seed < 2**63:
            problems.append("--seed must be a non-negative 64-bit integer")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats or len(set(self.formats)) != len(self.formats):
            problems.append(f"--formats must be a non-empty subset of {','.join(FORMATS)}")
        try:
            date.fromisoformat(self.start_date)
        except ValueError:
            problems.append(f"--start-date must be yyyy-MM-dd, got {self.start_date!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def arguments(self) -> dict[str, object]:
        """Resolved arguments as recorded in the manifest (no output path: relocatable).

        ``entity_version`` only when it is not 1, so the default manifest stays as it was.
        """
        arguments: dict[str, object] = {
            "rows": self.rows,
            "seed": self.seed,
            "customers": self.n_customers,
            "merchants": self.n_merchants,
            "months": self.months,
            "start_date": self.start_date,
            "bad_rows": self.bad_rows,
            "formats": list(self.formats),
            "chunk_rows": self.chunk_rows,
        }
        if self.entity_version != 1:
            arguments["entity_version"] = self.entity_version
        return arguments


def entity_step_sizes(n_customers: int, n_merchants: int) -> dict[str, int]:
    """How many customers and merchants each change step of ``--entity-version`` touches (at
    most: deletions and changes need candidates), from the version-1 counts."""
    return {
        "customers_country": max(1, n_customers // 50),
        "customers_email": max(1, n_customers // 50),
        "customers_deleted": max(1, n_customers // 200),
        "customers_added": max(1, n_customers // 100),
        "merchants_category": max(1, n_merchants // 20),
        "merchants_name": max(1, n_merchants // 20),
        "merchants_deleted": max(1, n_merchants // 50),
        "merchants_added": max(1, n_merchants // 50),
    }


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence((seed, *stream))))
