"""Replays transactions into a landing directory as a stream of JSON-lines micro-batch files.

Each file is written under a hidden temporary name and renamed into place, so a file source
never sees half a file. On top of the clean input the replay injects what a real feed does:
late events (held back until the stream clock has moved ``late_hours`` past them), duplicate
transaction_ids (exact re-sends, in the same or a later file), malformed lines of several kinds,
and (``out_of_order``) shuffled lines within a file. A manifest records what was injected, so the
ingest and the models can be reconciled against it.

    python -m spark_analytics.streaming.replay --out data/landing --rows 100000 --rate 5000 \
        --batch-rows 5000 --seed 42 --late-fraction 0.02 --late-hours 6 \
        --duplicate-fraction 0.01 --malformed-fraction 0.005 --out-of-order

The clean input is any iterable of pandas DataFrames with the columns transaction_id,
customer_id, merchant_id, purchase_amount, event_time (``--source synthetic`` makes them here;
``--source datagen`` uses ``spark_analytics.datagen.iter_transaction_chunks``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

EVENT_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "purchase_amount", "event_time")

# Kind of malformed line -> the quarantine reason the ingest must give it.
MALFORMED_KINDS: dict[str, str] = {
    "truncated_json": "malformed_row",
    "not_json": "malformed_row",
    "missing_transaction_id": "missing_transaction_id",
    "missing_merchant_id": "missing_merchant_id",
    "non_numeric_amount": "non_numeric_amount",
    "negative_amount": "negative_amount",
    "unparseable_event_time": "unparseable_event_time",
}


@dataclass(frozen=True)
class ReplayConfig:
    batch_rows: int = 1000  # clean events per file (late releases, duplicates, bad lines on top)
    seed: int = 42
    late_fraction: float = 0.0
    late_hours: float = 3.0
    duplicate_fraction: float = 0.0
    malformed_fraction: float = 0.0
    out_of_order: bool = False

    def __post_init__(self) -> None:
        if self.batch_rows < 1:
            raise ValueError("batch_rows must be >= 1")
        for name in ("late_fraction", "duplicate_fraction", "malformed_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.late_hours < 0:
            raise ValueError("late_hours must be >= 0")


@dataclass
class ReplayBatch:
    """One micro-batch file's lines and what went into it."""

    seq: int
    lines: list[str]
    on_time: int = 0
    late: int = 0
    duplicates: int = 0
    malformed: dict[str, int] = field(default_factory=dict)

    @property
    def valid_lines(self) -> int:
        return self.on_time + self.late + self.duplicates


def format_events(chunk: pd.DataFrame) -> pd.Series:
    """The JSON line of every transaction in ``chunk`` (event_time as ISO-8601 UTC, with
    microseconds; amount as a JSON number with 2 decimals)."""
    event_time = pd.to_datetime(chunk["event_time"], utc=True).dt.tz_convert(None)
    quoted = {
        name: chunk[name].astype(str).map(json.dumps)
        for name in ("transaction_id", "customer_id", "merchant_id")
    }
    return (
        '{"transaction_id":'
        + quoted["transaction_id"]
        + ',"customer_id":'
        + quoted["customer_id"]
        + ',"merchant_id":'
        + quoted["merchant_id"]
        + ',"purchase_amount":'
        + chunk["purchase_amount"].astype(float).round(2).map(repr)
        + ',"event_time":"'
        + event_time.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        + '"}'
    )


def format_event(row: dict) -> str:
    """One transaction as a JSON line (see format_events)."""
    if "_line" in row:
        return row["_line"]
    return format_events(pd.DataFrame([row])).iloc[0]


def malformed_line(kind: str, row: dict, rng: np.random.Generator) -> str:
    """A broken variant of ``row`` of the given kind (see MALFORMED_KINDS)."""
    good = json.loads(format_event(row))
    if kind == "truncated_json":
        text = format_event(row)
        return text[: int(rng.integers(1, len(text) - 1))]
    if kind == "not_json":
        return f"#corrupted record {int(rng.integers(0, 1_000_000))}#"
    if kind == "missing_transaction_id":
        del good["transaction_id"]
    elif kind == "missing_merchant_id":
        good["merchant_id"] = "  "
    elif kind == "non_numeric_amount":
        good["purchase_amount"] = "12,50 EUR"
    elif kind == "negative_amount":
        good["purchase_amount"] = -abs(good["purchase_amount"]) - 0.01
    elif kind == "unparseable_event_time":
        good["event_time"] = "yesterday afternoon"
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")
    return json.dumps(good, separators=(",", ":"))


def iter_rows(chunks: Iterable[pd.DataFrame]) -> Iterator[dict]:
    """Rows of the clean input, in input (= arrival) order."""
    for chunk in chunks:
        missing = set(EVENT_COLUMNS) - set(chunk.columns)
        if missing:
            raise ValueError(f"input chunk lacks columns {sorted(missing)}")
        rows = chunk.loc[:, list(EVENT_COLUMNS)].assign(_line=format_events(chunk))
        yield from rows.to_dict("records")


def plan_batches(chunks: Iterable[pd.DataFrame], config: ReplayConfig) -> Iterator[ReplayBatch]:
    """The micro-batch files for a clean input stream: a pure function of input and config.

    The stream clock is the largest event_time emitted so far. A late event is held back until
    the clock reaches event_time + late_hours (or the input ends), so it lands in a later file
    than its neighbours in event time. A duplicate is an exact copy of an emitted event, landing
    in the same file or one of the next two.
    """
    rng = np.random.default_rng(config.seed)
    late_delay = pd.Timedelta(hours=config.late_hours)
    held: list[tuple[pd.Timestamp, dict]] = []  # (release at, row)
    resend: dict[int, list[dict]] = {}  # batch seq -> rows to send again
    clock: pd.Timestamp | None = None
    seq = 0
    rows = iter_rows(chunks)
    exhausted = False

    while True:
        batch = ReplayBatch(seq=seq, lines=[])
        emitted: list[dict] = []
        while batch.on_time < config.batch_rows and not exhausted:
            row = next(rows, None)
            if row is None:
                exhausted = True
                break
            event_time = pd.Timestamp(row["event_time"])
            if rng.random() < config.late_fraction:
                held.append((event_time + late_delay, row))
                continue
            clock = event_time if clock is None else max(clock, event_time)
            emitted.append(row)
            batch.on_time += 1
        # The last file takes everything still held back or scheduled for re-sending.
        is_due = [exhausted or (clock is not None and at <= clock) for at, _ in held]
        emitted.extend(row for (_, row), due in zip(held, is_due, strict=True) if due)
        batch.late = sum(is_due)
        held = [item for item, due in zip(held, is_due, strict=True) if not due]
        originals = list(emitted)
        resent = resend.pop(seq, [])
        if exhausted:
            resent += [row for rows_ in resend.values() for row in rows_]
            resend.clear()
        for row in originals:
            if rng.random() < config.duplicate_fraction:
                target = seq if exhausted else seq + int(rng.integers(0, 3))
                resend.setdefault(target, []).append(row)
        resent += resend.pop(seq, [])
        emitted.extend(resent)
        batch.duplicates = len(resent)
        batch.lines = [format_event(row) for row in emitted]
        kinds = sorted(MALFORMED_KINDS)
        for row in originals:
            if rng.random() < config.malformed_fraction:
                kind = kinds[int(rng.integers(0, len(kinds)))]
                # at a random position, so bad lines are not all at the end of the file
                position = int(rng.integers(0, len(batch.lines) + 1))
                batch.lines.insert(position, malformed_line(kind, row, rng))
                batch.malformed[kind] = batch.malformed.get(kind, 0) + 1
        if config.out_of_order:
            rng.shuffle(batch.lines)
        if batch.lines:
            yield batch
            seq += 1
        if exhausted:
            return


def write_batch_file(out: Path, name: str, lines: list[str]) -> Path:
    """Writes ``lines`` to ``out/name`` atomically (hidden temp file, fsync, rename)."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / name
    tmp = out / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


@dataclass
class Manifest:
    prefix: str
    config: dict
    files: list[dict] = field(default_factory=list)
    source_events: int = 0
    late_events: int = 0
    duplicate_lines: int = 0
    malformed_lines: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    transaction_ids: set[str] = field(default_factory=set, repr=False)

    def add(self, batch: ReplayBatch, path: Path, landed_at: float) -> None:
        bad = sum(batch.malformed.values())
        self.files.append(
            {
                "name": path.name,
                "lines": len(batch.lines),
                "valid_lines": batch.valid_lines,
                "malformed_lines": bad,
                "landed_at": landed_at,
            }
        )
        self.source_events += batch.on_time + batch.late
        self.late_events += batch.late
        self.duplicate_lines += batch.duplicates
        self.malformed_lines += bad
        for kind, count in batch.malformed.items():
            reason = MALFORMED_KINDS[kind]
            self.malformed_by_reason[reason] = self.malformed_by_reason.get(reason, 0) + count

    def to_dict(self) -> dict:
        return {
            "prefix": self.prefix,
            "config": self.config,
            "lines": sum(f["lines"] for f in self.files),
            "valid_lines": self.source_events + self.duplicate_lines,
            "source_events": self.source_events,
            "late_events": self.late_events,
            "duplicate_lines": self.duplicate_lines,
            "malformed_lines": self.malformed_lines,
            "malformed_by_reason": dict(sorted(self.malformed_by_reason.items())),
            "files": self.files,
        }


def replay(
    chunks: Iterable[pd.DataFrame],
    out: Path,
    config: ReplayConfig,
    rate: float = 0.0,
    prefix: str | None = None,
    manifest_path: Path | None = None,
) -> dict:
    """Writes the planned batches into ``out`` at ``rate`` clean events/s (0 = unthrottled) and
    returns (and writes) the manifest."""
    prefix = prefix or f"events-s{config.seed}-{uuid.uuid4().hex[:8]}"
    manifest = Manifest(prefix=prefix, config={**asdict(config), "rate": rate})
    started = time.monotonic()
    for batch in plan_batches(chunks, config):
        path = write_batch_file(Path(out), f"{prefix}-{batch.seq:06d}.jsonl", batch.lines)
        manifest.add(batch, path, time.time())
        if rate > 0:
            ahead = manifest.source_events / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    result = manifest.to_dict()
    manifest_path = manifest_path or Path(out) / "_manifests" / f"{prefix}.json"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def synthetic_transactions(
    rows: int,
    seed: int = 42,
    start: str = "2024-01-01",
    span_hours: float = 48.0,
    merchants: int = 20,
    customers: int = 500,
    chunk_rows: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """Valid transactions in event-time order, ``rows`` of them spread over ``span_hours``."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, span_hours * 3600, size=rows))
    origin = pd.Timestamp(start)
    for begin in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - begin)
        ids = np.arange(begin, begin + n)
        yield pd.DataFrame(
            {
                "transaction_id": [f"t{seed}-{i:09d}" for i in ids],
                "customer_id": [f"c{c:06d}" for c in rng.integers(0, customers, n)],
                "merchant_id": [f"m{m:04d}" for m in rng.integers(0, merchants, n)],
                "purchase_amount": np.round(rng.lognormal(3.5, 1.0, n), 2),
                "event_time": origin + pd.to_timedelta(np.floor(offsets[begin : begin + n]), "s"),
            }
        )


def datagen_transactions(rows: int, seed: int, months: int = 1) -> Iterable[pd.DataFrame]:
    """The project generator's valid transactions (roughly in event-time order)."""
    from spark_analytics.datagen import DatagenConfig, iter_transaction_chunks  # noqa: PLC0415

    config = DatagenConfig(rows=rows, seed=seed, months=months, chunk_rows=min(rows, 100_000))
    return iter_transaction_chunks(config.validate())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="landing directory")
    parser.add_argument("--rows", type=int, required=True, help="clean events to replay")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0 = unthrottled)")
    parser.add_argument("--batch-rows", type=int, default=1000, help="clean events per file")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--late-fraction", type=float, default=0.0)
    parser.add_argument("--late-hours", type=float, default=3.0)
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--malformed-fraction", type=float, default=0.0)
    parser.add_argument("--out-of-order", action="store_true", help="shuffle lines within a file")
    parser.add_argument("--source", choices=("synthetic", "datagen"), default="synthetic")
    parser.add_argument("--span-hours", type=float, default=48.0, help="synthetic: event span")
    parser.add_argument("--months", type=int, default=1, help="datagen: months of events")
    parser.add_argument("--start", default="2024-01-01", help="synthetic: first event time")
    parser.add_argument("--prefix", default=None, help="file name prefix (default: unique)")
    parser.add_argument("--manifest", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = ReplayConfig(
        batch_rows=args.batch_rows,
        seed=args.seed,
        late_fraction=args.late_fraction,
        late_hours=args.late_hours,
        duplicate_fraction=args.duplicate_fraction,
        malformed_fraction=args.malformed_fraction,
        out_of_order=args.out_of_order,
    )
    if args.source == "datagen":
        chunks = datagen_transactions(args.rows, args.seed, args.months)
    else:
        chunks = synthetic_transactions(
            args.rows, seed=args.seed, start=args.start, span_hours=args.span_hours
        )
    result = replay(chunks, args.out, config, args.rate, args.prefix, args.manifest)
    summary = {k: v for k, v in result.items() if k not in ("files", "config")}
    print(json.dumps({"files": len(result["files"]), **summary}))


if __name__ == "__main__":
    main()
