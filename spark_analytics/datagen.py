"""Deterministic synthetic e-commerce data: transactions, customers, merchants.

Usage::

    python -m spark_analytics.datagen --rows 1000000 --seed 42 --out data/generated \\
        [--customers N] [--merchants M] [--months 6] [--start-date 2026-01-01] \\
        [--bad-rows K] [--formats csv,json,parquet] [--chunk-rows 500000]

Pure numpy / pyarrow, streamed: rows are generated and written one part file
(``--chunk-rows`` valid rows) at a time, so memory stays bounded whatever ``--rows`` is. The same
seed and arguments give byte-identical files; the valid rows do not depend on ``--chunk-rows``,
``--formats`` or ``--bad-rows``.

Output layout under ``--out`` (a contract other code relies on)::

    transactions/csv/part-00000.csv         header transaction_id,customer_id,merchant_id,
                                            purchase_amount,event_time; amount with 2 decimals,
                                            event_time 'yyyy-MM-dd HH:mm:ss' (UTC)
    transactions/json/part-00000.jsonl      same fields; purchase_amount a number
    transactions/parquet/part-00000.parquet strings, purchase_amount double,
                                            event_time timestamp[us, UTC]
    customers/customers.jsonl               customer_id, customer_name, email, country (ISO2),
                                            signup_date (yyyy-MM-dd)
    merchants/merchants.parquet             merchant_id, merchant_name (messy on purpose),
                                            category_code (from seeds/merchant_categories.csv),
                                            country
    manifest.json                           seed, resolved arguments, row counts per file,
                                            bad rows per (format, reason) and one entry per
                                            injected bad row; written last

Ids: ``t000000000001`` (12 digits, in file order), ``c0000001``, ``m00001``; injected bad rows
use ``tbad00000001``... (see ``spark_analytics.datagen_badrows`` for the reasons; parquet gets
only the type-compatible ones: null_amount, negative_amount, duplicate_transaction_id,
unknown_merchant_id).

The latent model (hidden, but what makes the data learnable):

* Customer segment (budget 45% / regular 40% / premium 15%) sets a persistent spend level: the
  customer's mean log amount (segment mean + N(0, 0.3)). Each purchase's log amount is that level
  + the merchant category's offset (travel, jewelry, electronics high; restaurants, fuel low)
  + N(0, 0.55), plus 1.1 on 4% "splurges". Overall about 78% of amounts are <= 500, 14% in
  (500, 1000] and 7% > 1000; amounts are clipped to [1.00, 50000.00].
* Activity rate: lognormal x (1 + Pareto(1.6)), so a few customers are very active (the top 1% make
  about a fifth of all purchases). A customer buys only while active.
* Signup: 70% signed up in the two years before the window, 30% during it (active from then on).
* Churn: churn probability = logistic(-0.7 - 0.9 * standardised log activity + noise), so less
  active customers churn more. A churning customer gets a churn date 1 to (window days + 90) days
  after becoming active (uniform; so some churn only after the window) and never buys from then on.
* Purchases: the number of rows per day follows the total activity of the customers active that
  day x weekday factor (weekend peak) x slow growth x pay-day bumps; within a day times follow an
  hour-of-day profile (lunch and evening peaks). Each purchase's customer is drawn among the active
  customers proportionally to activity, its merchant by Zipf-like merchant popularity.
* So "no purchase in the 30 days after a cut-off" is predictable from recency / frequency (churned
  and low-activity customers), and "a purchase > 1000 in the 30 days after" from frequency and past
  amounts (spend level); both are noisy (logistic regression on RFM features: AUC about 0.85 and
  0.82 at 1M rows). ``customer_traits(config)`` returns the hidden traits for checks.

Rows are in time order up to a N(0, 10 min) jitter of each event time (roughly sorted).

Python API: ``DatagenConfig``, ``iter_transaction_chunks(config)`` (valid rows as pandas
DataFrames, exactly as written), ``write_dataset(config)`` (writes everything, returns the
manifest), ``customer_traits(config)``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spark_analytics.datagen_badrows import (
    CSV_HEADER,
    FAMILY_PARQUET,
    FAMILY_TEXT,
    PARQUET_REASONS,
    REASONS_BY_FORMAT,
    TEXT_REASONS,
    BadRow,
    Fields,
    bad_fields,
    parquet_values,
    plan_bad_rows,
    render_csv,
    render_json,
)
from spark_analytics.datagen_entities import CATEGORIES
from spark_analytics.datagen_world import (
    FORMATS,
    DatagenConfig,
    Rows,
    RowSource,
    World,
    build_world,
    chunk_bounds,
    customer_traits,
    iter_customer_tables,
    iter_transaction_chunks,
    merchants_table,
    rows_to_arrow,
)

__all__ = [
    "DatagenConfig",
    "customer_traits",
    "iter_transaction_chunks",
    "main",
    "write_dataset",
]

EXTENSIONS = {"csv": "csv", "json": "jsonl", "parquet": "parquet"}
PARQUET_COMPRESSION = "snappy"


def _text_columns(world: World, table: pa.Table, rows: Rows) -> dict[str, pa.Array]:
    """Transaction columns rendered as the text formats write them."""
    day = (rows.epoch - world.start_epoch) // 86_400
    second = (rows.epoch - world.start_epoch) % 86_400
    dates = pa.array(
        [str(d) for d in np.datetime64(world.start) + np.arange(world.n_days).astype("m8[D]")]
    )
    hms = _clock_strings()
    cents = pa.array(np.array([f"{i:02d}" for i in range(100)]))
    return {
        "transaction_id": table.column("transaction_id").combine_chunks(),
        "customer_id": table.column("customer_id").combine_chunks(),
        "merchant_id": table.column("merchant_id").combine_chunks(),
        "amount": pc.binary_join_element_wise(
            pc.cast(pa.array(rows.cents // 100), pa.string()),
            cents.take(pa.array(rows.cents % 100)),
            ".",
        ),  # fmt: skip
        "event_time": pc.binary_join_element_wise(
            dates.take(pa.array(day)), hms.take(pa.array(second)), " "
        ),
    }


_CLOCK: list[pa.Array] = []


def _clock_strings() -> pa.Array:
    if not _CLOCK:
        s = np.arange(86_400)
        _CLOCK.append(
            pa.array(
                [
                    f"{h:02d}:{m:02d}:{x:02d}"
                    for h, m, x in zip(s // 3600, s // 60 % 60, s % 60, strict=True)
                ]
            )
        )
    return _CLOCK[0]


def _csv_lines(c: dict[str, pa.Array]) -> pa.Array:
    return pc.binary_join_element_wise(
        c["transaction_id"],
        ",",
        c["customer_id"],
        ",",
        c["merchant_id"],
        ",",
        c["amount"],
        ",",
        c["event_time"],
        "\n",
        "",
    )


def _json_lines(c: dict[str, pa.Array]) -> pa.Array:
    return pc.binary_join_element_wise(
        '{"transaction_id":"',
        c["transaction_id"],
        '","customer_id":"',
        c["customer_id"],
        '","merchant_id":"',
        c["merchant_id"],
        '","purchase_amount":',
        c["amount"],
        ',"event_time":"',
        c["event_time"],
        '"}\n',
        "",
    )


def _write_lines(
    path: Path, header: str, lines: pa.Array, inserts: Iterable[tuple[int, str]]
) -> None:
    """Write pre-rendered lines (each ends in a newline) with extra lines after given rows."""
    offsets = _offsets(lines)
    data = memoryview(lines.buffers()[2])
    with open(path, "wb") as fh:
        fh.write(header.encode())
        done = 0
        for after, line in inserts:
            fh.write(data[offsets[done] : offsets[after + 1]])
            fh.write(line.encode())
            done = after + 1
        fh.write(data[offsets[done] : offsets[len(lines)]])


def _fields(world: World, rows: Rows, i: int) -> Fields:
    return Fields(
        transaction_id=f"t{int(rows.tx_num[i]):012d}",
        customer_id=f"c{int(rows.customer[i]) + 1:07d}",
        merchant_id=f"m{int(rows.merchant[i]) + 1:05d}",
        cents=int(rows.cents[i]),
        epoch=int(rows.epoch[i]),
    )


def _source_fields(world: World, source: RowSource, rows: Rows, lo: int, index: int) -> Fields:
    if index >= lo:
        return _fields(world, rows, index - lo)
    return _fields(world, source.rows(index, index + 1), 0)


class _Writer:
    """Writes the transaction part files of all requested formats, chunk by chunk."""

    def __init__(self, config: DatagenConfig, world: World, out: Path) -> None:
        self.config, self.world, self.out = config, world, out
        self.source = RowSource(world)
        self.end_epoch = world.start_epoch + world.n_days * 86_400
        self.plans: dict[str, list[BadRow]] = {}
        text = plan_bad_rows(config, TEXT_REASONS, FAMILY_TEXT, 0)
        for fmt in config.formats:
            self.plans[fmt] = (
                plan_bad_rows(config, PARQUET_REASONS, FAMILY_PARQUET, config.bad_rows)
                if fmt == "parquet"
                else text
            )
        self.files: list[dict[str, object]] = []
        self.bad_entries: list[dict[str, object]] = []

    def write(self) -> None:
        for fmt in self.config.formats:
            (self.out / "transactions" / fmt).mkdir(parents=True, exist_ok=True)
        cursors = dict.fromkeys(self.config.formats, 0)
        for part, (lo, hi) in enumerate(chunk_bounds(self.config.rows, self.config.chunk_rows)):
            rows = self.source.rows(lo, hi)
            table = rows_to_arrow(self.world, rows)
            text = (
                _text_columns(self.world, table, rows)
                if {"csv", "json"} & set(self.config.formats)
                else {}
            )
            for fmt in self.config.formats:
                plan = self.plans[fmt]
                start = cursors[fmt]
                stop = start
                while stop < len(plan) and plan[stop].after < hi:
                    stop += 1
                cursors[fmt] = stop
                bad = [
                    (
                        b,
                        bad_fields(
                            b,
                            _source_fields(self.world, self.source, rows, lo, b.source),
                            self.end_epoch,
                        ),
                    )
                    for b in plan[start:stop]
                ]
                self._write_part(fmt, part, lo, hi, table, text, bad)

    def _write_part(
        self,
        fmt: str,
        part: int,
        lo: int,
        hi: int,
        table: pa.Table,
        text: dict[str, pa.Array],
        bad: list[tuple[BadRow, Fields]],
    ) -> None:
        rel = f"transactions/{fmt}/part-{part:05d}.{EXTENSIONS[fmt]}"
        path = self.out / rel
        year = self.world.start.year
        if fmt == "csv":
            inserts = [(b.after - lo, render_csv(b, f, year)) for b, f in bad]
            _write_lines(path, CSV_HEADER, _csv_lines(text), inserts)
        elif fmt == "json":
            inserts = [(b.after - lo, render_json(b, f, year)) for b, f in bad]
            _write_lines(path, "", _json_lines(text), inserts)
        else:
            _write_parquet(path, table, [(b.after - lo, parquet_values(b, f)) for b, f in bad])
        header_lines = 1 if fmt == "csv" else 0
        for n_before, (b, _) in enumerate(bad):
            entry: dict[str, object] = {
                "format": fmt,
                "reason": b.reason,
                "transaction_id": None
                if (fmt == "json" and b.reason == "malformed_row")
                else b.transaction_id,
                "file": rel,
            }
            position = b.after - lo + 1 + n_before + 1  # 1-based among the data rows
            if fmt == "parquet":
                entry["row"] = position - 1  # 0-based row index in the file
            else:
                entry["line"] = header_lines + position  # 1-based physical line number
            self.bad_entries.append(entry)
        self.files.append(
            {
                "path": rel,
                "format": fmt,
                "rows": hi - lo + len(bad),
                "valid_rows": hi - lo,
                "bad_rows": len(bad),
            }
        )


def _write_parquet(
    path: Path, table: pa.Table, inserts: list[tuple[int, tuple[str, str, str, float | None, int]]]
) -> None:
    pieces, done = [], 0
    for after, (tx, cust, merch, amount, epoch) in inserts:
        pieces.append(table.slice(done, after + 1 - done))
        extra = pa.table(
            {
                "transaction_id": pa.array([tx], pa.string()),
                "customer_id": pa.array([cust], pa.string()),
                "merchant_id": pa.array([merch], pa.string()),
                "purchase_amount": pa.array([amount], pa.float64()),
                "event_time": pa.array([epoch * 1_000_000], pa.int64()).cast(
                    pa.timestamp("us", tz="UTC")
                ),
            }
        )
        pieces.append(extra.cast(table.schema))
        done = after + 1
    pieces.append(table.slice(done))
    full = pa.concat_tables(pieces).combine_chunks() if len(pieces) > 1 else table
    pq.write_table(full, path, compression=PARQUET_COMPRESSION)


def _write_customers(world: World, out: Path, chunk_rows: int) -> dict[str, object]:
    rel = "customers/customers.jsonl"
    (out / "customers").mkdir(parents=True, exist_ok=True)
    with open(out / rel, "wb") as fh:
        for t in iter_customer_tables(world, chunk_rows):
            c = {name: t.column(name).combine_chunks() for name in t.column_names}
            lines = pc.binary_join_element_wise(
                '{"customer_id":"',
                c["customer_id"],
                '","customer_name":"',
                c["customer_name"],
                '","email":"',
                c["email"],
                '","country":"',
                c["country"],
                '","signup_date":"',
                c["signup_date"],
                '"}\n',
                "",
            )
            _write_lines_raw(fh, lines)
    return {"path": rel, "format": "json", "rows": world.config.n_customers}


def _offsets(lines: pa.Array) -> np.ndarray:
    dtype = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    return np.frombuffer(lines.buffers()[1], dtype=dtype)[
        lines.offset : lines.offset + len(lines) + 1
    ]


def _write_lines_raw(fh: BinaryIO, lines: pa.Array) -> None:
    offsets = _offsets(lines)
    fh.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def _write_merchants(world: World, out: Path) -> dict[str, object]:
    rel = "merchants/merchants.parquet"
    (out / "merchants").mkdir(parents=True, exist_ok=True)
    pq.write_table(merchants_table(world), out / rel, compression=PARQUET_COMPRESSION)
    return {"path": rel, "format": "parquet", "rows": world.config.n_merchants}


def _clean(out: Path) -> None:
    """Remove what a previous run wrote (only the generator's own paths)."""
    (out / "manifest.json").unlink(missing_ok=True)
    for sub in ("transactions", "customers", "merchants"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)


def write_dataset(config: DatagenConfig) -> dict[str, object]:
    """Write all files under ``config.out`` and return the manifest (also written last)."""
    config.validate()
    out = Path(config.out)
    _clean(out)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(config)
    writer = _Writer(config, world, out)
    writer.write()
    customers = _write_customers(world, out, config.chunk_rows)
    merchants = _write_merchants(world, out)
    bad_counts = {
        fmt: {
            reason: sum(
                1 for e in writer.bad_entries if e["format"] == fmt and e["reason"] == reason
            )
            for reason in REASONS_BY_FORMAT[fmt]
        }
        for fmt in config.formats
    }
    transactions = {
        fmt: {
            "files": sum(1 for f in writer.files if f["format"] == fmt),
            "valid_rows": config.rows,
            "bad_rows": sum(bad_counts[fmt].values()),
            "rows": config.rows + sum(bad_counts[fmt].values()),
        }
        for fmt in config.formats
    }
    manifest: dict[str, object] = {
        "generator": "spark_analytics.datagen",
        "manifest_version": 1,
        "seed": config.seed,
        "arguments": config.arguments(),
        "window": {
            "start": f"{world.start.isoformat()} 00:00:00",
            "end_exclusive": f"{world.end.isoformat()} 00:00:00",
            "days": world.n_days,
            "timezone": "UTC",
        },
        "counts": {
            "customers": config.n_customers,
            "merchants": config.n_merchants,
            "transactions": transactions,
        },
        "category_codes": [c.code for c in CATEGORIES],
        "files": [*sorted(writer.files, key=lambda f: str(f["path"])), customers, merchants],
        "bad_rows": {
            "reasons": {fmt: list(REASONS_BY_FORMAT[fmt]) for fmt in config.formats},
            "counts": bad_counts,
            "rows": writer.bad_entries,
        },
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / "manifest.json")
    return manifest


def parse_args(argv: list[str] | None = None) -> DatagenConfig:
    p = argparse.ArgumentParser(
        prog="python -m spark_analytics.datagen",
        description="Deterministic synthetic transactions, customers and merchants.",
    )
    p.add_argument("--rows", type=int, default=1_000_000, help="valid transactions")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default="data/generated", help="output directory")
    p.add_argument("--customers", type=int, default=None, help="default max(1000, rows // 20)")
    p.add_argument(
        "--merchants", type=int, default=None, help="default min(5000, max(50, rows // 2000))"
    )
    p.add_argument("--months", type=int, default=6, help="length of the event window")
    p.add_argument("--start-date", default="2026-01-01", help="first day of the window (UTC)")
    p.add_argument("--bad-rows", type=int, default=0, help="extra bad rows per format")
    p.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset")
    p.add_argument("--chunk-rows", type=int, default=500_000, help="valid rows per part file")
    a = p.parse_args(argv)
    config = DatagenConfig(
        rows=a.rows,
        seed=a.seed,
        out=a.out,
        customers=a.customers,
        merchants=a.merchants,
        months=a.months,
        start_date=a.start_date,
        bad_rows=a.bad_rows,
        formats=tuple(f.strip() for f in a.formats.split(",") if f.strip()),
        chunk_rows=a.chunk_rows,
    )
    try:
        return config.validate()
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    started = time.perf_counter()
    manifest = write_dataset(config)
    elapsed = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "out": str(config.out),
        "rows": config.rows,
        "bad_rows_per_format": config.bad_rows,
        "formats": list(config.formats),
        "files": len(manifest["files"]),  # type: ignore[arg-type]
        "seconds": round(elapsed, 2),
        "rows_per_second": round(config.rows / elapsed) if elapsed else None,
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(json.dumps(summary), file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
