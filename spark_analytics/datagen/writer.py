"""Writes the data set: transaction part files per format (with injected bad rows), customers,
merchants and the manifest (``write_dataset``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spark_analytics import progress
from spark_analytics.datagen.badrows import (
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
from spark_analytics.datagen.config import DatagenConfig
from spark_analytics.datagen.entities import CATEGORIES
from spark_analytics.datagen.versions import customers_version, merchants_version
from spark_analytics.datagen.world import (
    Rows,
    RowSource,
    World,
    build_world,
    chunk_bounds,
    iter_customer_tables,
    merchants_table,
    rows_to_arrow,
)

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
        bounds = chunk_bounds(self.config.rows, self.config.chunk_rows)
        for part, (lo, hi) in enumerate(progress.chunks(bounds, self.config.rows, "transactions")):
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


def _write_customers(out: Path, tables: Iterable[pa.Table]) -> dict[str, object]:
    rel = "customers/customers.jsonl"
    (out / "customers").mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(out / rel, "wb") as fh:
        for t in tables:
            rows += t.num_rows
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
    return {"path": rel, "format": "json", "rows": rows}


def _offsets(lines: pa.Array) -> np.ndarray:
    dtype = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    return np.frombuffer(lines.buffers()[1], dtype=dtype)[
        lines.offset : lines.offset + len(lines) + 1
    ]


def _write_lines_raw(fh: BinaryIO, lines: pa.Array) -> None:
    offsets = _offsets(lines)
    fh.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def _write_merchants(out: Path, table: pa.Table) -> dict[str, object]:
    rel = "merchants/merchants.parquet"
    (out / "merchants").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / rel, compression=PARQUET_COMPRESSION)
    return {"path": rel, "format": "parquet", "rows": table.num_rows}


# What a run writes under its output folder, and so what the next run removes first.
GENERATED_PATHS = ("manifest.json", "transactions", "customers", "merchants")


def _clean(out: Path) -> None:
    """Remove what a previous run wrote (only the generator's own paths)."""
    for name in GENERATED_PATHS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def write_dataset(config: DatagenConfig) -> dict[str, object]:
    """Write all files under ``config.out`` and return the manifest (also written last)."""
    config.validate()
    out = Path(config.out)
    _clean(out)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(config)
    writer = _Writer(config, world, out)
    writer.write()
    entity_changes: dict[str, object] = {}
    if config.entity_version == 1:
        customers = _write_customers(out, iter_customer_tables(world, config.chunk_rows))
        merchants = _write_merchants(out, merchants_table(world))
    else:  # a later version of the entities (spark_analytics.datagen.versions)
        customer_version = customers_version(world, config.entity_version)
        merchant_version = merchants_version(world, config.entity_version)
        table = customer_version.table
        customers = _write_customers(
            out,
            (table.slice(lo, hi - lo) for lo, hi in chunk_bounds(len(table), config.chunk_rows)),
        )
        merchants = _write_merchants(out, merchant_version.table)
        entity_changes = {
            "entity_version": config.entity_version,
            "entity_changes": {
                "customers": customer_version.changes,
                "merchants": merchant_version.changes,
            },
        }
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
            "customers": customers["rows"],
            "merchants": merchants["rows"],
            "transactions": transactions,
        },
        "category_codes": [c.code for c in CATEGORIES],
        "files": [*sorted(writer.files, key=lambda f: str(f["path"])), customers, merchants],
        "bad_rows": {
            "reasons": {fmt: list(REASONS_BY_FORMAT[fmt]) for fmt in config.formats},
            "counts": bad_counts,
            "rows": writer.bad_entries,
        },
        **entity_changes,
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / "manifest.json")
    return manifest
