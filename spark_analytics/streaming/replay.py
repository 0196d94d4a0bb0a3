"""Replays generated transactions into a landing directory as JSON-lines micro-batch files.

The events are ``spark_analytics.datagen``'s valid transactions (same ids, same JSON lines as its
``transactions/json`` files) and the bad lines are its defects (``datagen.badrows``, the kinds
in ``STREAM_REASONS``, ids ``tbad00000001``...): this module only decides when and where they
land. Each file is written under a hidden temporary name and renamed into place, so a file
source never sees half a file. On top of the clean input the replay does what a real feed does:
late events (held back until the stream clock has moved ``late_hours`` past them), duplicate
transaction_ids (exact re-sends, in the same or a later file), bad lines, and
(``out_of_order``) shuffled lines within a file. A manifest records what was injected, so the
ingest and the models can be reconciled against it.

    python -m spark_analytics.streaming.replay --out data/landing --rows 100000 --rate 5000 \
        --batch-rows 5000 --seed 42 --late-fraction 0.02 --late-hours 6 \
        --duplicate-fraction 0.01 --malformed-fraction 0.005 --out-of-order

``plan_batches`` and ``replay`` take any iterable of pandas DataFrames with the columns of
``datagen.iter_transaction_chunks`` (``generated_transactions`` makes them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spark_analytics import progress
from spark_analytics.datagen import DatagenConfig, iter_transaction_chunks
from spark_analytics.datagen.badrows import STREAM_REASONS, BadRow, Fields, json_line, render_json

EVENT_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "purchase_amount", "event_time")


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


@dataclass(frozen=True)
class Event:
    """One clean transaction: its event time (the stream clock), fields and JSON line."""

    event_time: pd.Timestamp
    fields: Fields
    line: str


def iter_events(chunks: Iterable[pd.DataFrame]) -> Iterator[Event]:
    """The clean input as events, in input (= arrival) order."""
    for chunk in chunks:
        missing = set(EVENT_COLUMNS) - set(chunk.columns)
        if missing:
            raise ValueError(f"input chunk lacks columns {sorted(missing)}")
        times = pd.to_datetime(chunk["event_time"], utc=True)
        epochs = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        cents = np.rint(chunk["purchase_amount"].astype(float).to_numpy() * 100).astype(np.int64)
        columns = zip(
            times,
            chunk["transaction_id"].astype(str),
            chunk["customer_id"].astype(str),
            chunk["merchant_id"].astype(str),
            cents,
            epochs,
            strict=True,
        )
        for event_time, tx, customer, merchant, amount, epoch in columns:
            fields = Fields(tx, customer, merchant, int(amount), int(epoch))
            yield Event(event_time, fields, json_line(fields).rstrip("\n"))


def bad_line(reason: str, variant: int, number: int, source: Fields) -> str:
    """The generator's bad JSON line of ``reason`` (flavour ``variant``), built from a clean
    event's customer, merchant, amount and time under a fresh id ``tbad{number:08d}``."""
    transaction_id = f"tbad{number:08d}"
    bad = BadRow(
        after=-1,  # placement is the replay's (plan_batches), not the file generator's
        reason=reason,
        transaction_id=transaction_id,
        source=-1,
        variant=variant,
        cents=source.cents,
        delay=0,
        unknown_merchant=0,
    )
    fields = Fields(
        transaction_id, source.customer_id, source.merchant_id, source.cents, source.epoch
    )
    year = time.gmtime(source.epoch).tm_year
    return render_json(bad, fields, year).rstrip("\n")


def plan_batches(chunks: Iterable[pd.DataFrame], config: ReplayConfig) -> Iterator[ReplayBatch]:
    """The micro-batch files for a clean input stream: a pure function of input and config.

    The stream clock is the largest event_time emitted so far. A late event is held back until
    the clock reaches event_time + late_hours (or the input ends), so it lands in a later file
    than its neighbours in event time. A duplicate is an exact copy of an emitted event, landing
    in the same file or one of the next two. A bad line (one of ``STREAM_REASONS``, reasons
    drawn at random, each reason's flavours in turn) lands at a random place in the file.
    """
    rng = np.random.default_rng(config.seed)
    late_delay = pd.Timedelta(hours=config.late_hours)
    held: list[tuple[pd.Timestamp, Event]] = []  # (release at, event)
    resend: dict[int, list[Event]] = {}  # batch seq -> events to send again
    clock: pd.Timestamp | None = None
    seq = 0
    events = iter_events(chunks)
    exhausted = False
    flavours: Counter[str] = Counter()  # bad lines so far per reason
    bad_lines = 0

    while True:
        batch = ReplayBatch(seq=seq, lines=[])
        emitted: list[Event] = []
        while batch.on_time < config.batch_rows and not exhausted:
            event = next(events, None)
            if event is None:
                exhausted = True
                break
            if rng.random() < config.late_fraction:
                held.append((event.event_time + late_delay, event))
                continue
            clock = event.event_time if clock is None else max(clock, event.event_time)
            emitted.append(event)
            batch.on_time += 1
        # The last file takes everything still held back or scheduled for re-sending.
        is_due = [exhausted or (clock is not None and at <= clock) for at, _ in held]
        emitted.extend(event for (_, event), due in zip(held, is_due, strict=True) if due)
        batch.late = sum(is_due)
        held = [item for item, due in zip(held, is_due, strict=True) if not due]
        originals = list(emitted)
        resent = resend.pop(seq, [])
        if exhausted:
            resent += [event for pending in resend.values() for event in pending]
            resend.clear()
        for event in originals:
            if rng.random() < config.duplicate_fraction:
                target = seq if exhausted else seq + int(rng.integers(0, 3))
                resend.setdefault(target, []).append(event)
        resent += resend.pop(seq, [])
        emitted.extend(resent)
        batch.duplicates = len(resent)
        batch.lines = [event.line for event in emitted]
        for event in originals:
            if rng.random() < config.malformed_fraction:
                reason = STREAM_REASONS[int(rng.integers(0, len(STREAM_REASONS)))]
                bad_lines += 1
                line = bad_line(reason, flavours[reason], bad_lines, event.fields)
                flavours[reason] += 1
                # at a random position, so bad lines are not all at the end of the file
                position = int(rng.integers(0, len(batch.lines) + 1))
                batch.lines.insert(position, line)
                batch.malformed[reason] = batch.malformed.get(reason, 0) + 1
        if config.out_of_order:
            rng.shuffle(batch.lines)
        if batch.lines:
            yield batch
            seq += 1
        if exhausted:
            return


def write_batch_file(out: Path, name: str, lines: list[str]) -> bool:
    """Writes ``lines`` to ``out/name`` atomically (hidden temp file, fsync, rename); False if
    it was there already.

    A file of that name with the same lines is left as it is: a rerun of the same replay lands
    nothing new. One with other lines is refused: a file source reads each path once, so its
    new lines would never be read."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / name
    text = "\n".join(lines) + "\n"
    if final.exists():
        if final.read_text(encoding="utf-8") == text:
            return False
        raise FileExistsError(
            f"{final} already landed with other lines; a file source reads a path once, so "
            "they would never be read: replay into another --out (make stream STREAM_DIR=...) "
            "or with another --prefix"
        )
    tmp = out / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return True


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
        for reason, count in batch.malformed.items():
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
    total_events: int | None = None,
) -> dict:
    """Writes the planned batches into ``out`` at ``rate`` clean events/s (0 = unthrottled) and
    returns (and writes) the manifest. Without a ``prefix`` the files get unique names (the CLI
    derives one from its arguments: ``replay_prefix``)."""
    prefix = prefix or f"events-s{config.seed}-{uuid.uuid4().hex[:8]}"
    manifest = Manifest(prefix=prefix, config={**asdict(config), "rate": rate})
    started: float | None = None  # the clock starts with the first file, after the generator's
    shown = progress.bar(total=total_events, desc="replay", unit="events")
    for batch in plan_batches(chunks, config):
        started = time.monotonic() if started is None else started
        path = Path(out) / f"{prefix}-{batch.seq:06d}.jsonl"
        landed = write_batch_file(path.parent, path.name, batch.lines)
        # a file kept from an earlier run of the same replay: when it landed then
        manifest.add(batch, path, time.time() if landed else path.stat().st_mtime)
        if rate > 0 and landed:
            ahead = manifest.source_events / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        shown.update(manifest.source_events - shown.n)
    shown.close()
    result = manifest.to_dict()
    manifest_path = manifest_path or Path(out) / "_manifests" / f"{prefix}.json"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def generated_transactions(
    rows: int,
    seed: int = 42,
    months: int = 1,
    start_date: str = "2026-01-01",
    merchants: int | None = None,
    customers: int | None = None,
    chunk_rows: int = 100_000,
) -> Iterator[pd.DataFrame]:
    """``spark_analytics.datagen``'s valid transactions (roughly in event-time order)."""
    config = DatagenConfig(
        rows=rows,
        seed=seed,
        months=months,
        start_date=start_date,
        merchants=merchants,
        customers=customers,
        chunk_rows=min(rows, chunk_rows),
    )
    return iter_transaction_chunks(config.validate())


# Part of the CLI's file names: raise it when the same arguments come to give other lines.
REPLAY_FORMAT = 1


def replay_prefix(config: ReplayConfig, generator: dict[str, object]) -> str:
    """The CLI's file name prefix: a digest of what decides the files' lines (the replay's
    config, the generator's arguments, REPLAY_FORMAT), so running the same replay again (``make
    stream`` twice) lands the same files, which the ingest has already read, rather than every
    event a second time. Where and how fast they land does not count."""
    decides = {"format": REPLAY_FORMAT, "replay": asdict(config), "generator": generator}
    digest = hashlib.sha256(json.dumps(decides, sort_keys=True).encode()).hexdigest()
    return f"events-s{config.seed}-{digest[:8]}"


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
    parser.add_argument(
        "--source", choices=("datagen",), default="datagen", help="spark_analytics.datagen (only)"
    )
    parser.add_argument("--months", type=int, default=1, help="months of events")
    parser.add_argument("--start-date", default="2026-01-01", help="first day of events (UTC)")
    parser.add_argument("--merchants", type=int, default=None, help="default: the generator's")
    parser.add_argument(
        "--prefix",
        default=None,
        help="file name prefix (default: from the other arguments, so a rerun lands no new file)",
    )
    parser.add_argument("--manifest", type=Path, default=None)
    return parser.parse_args(argv)


def replay_config(args: argparse.Namespace) -> ReplayConfig:
    return ReplayConfig(
        batch_rows=args.batch_rows,
        seed=args.seed,
        late_fraction=args.late_fraction,
        late_hours=args.late_hours,
        duplicate_fraction=args.duplicate_fraction,
        malformed_fraction=args.malformed_fraction,
        out_of_order=args.out_of_order,
    )


def generator_arguments(args: argparse.Namespace) -> dict[str, object]:
    """``generated_transactions``' arguments but the seed (the config's): with the config, what
    the files hold."""
    return {
        "rows": args.rows,
        "months": args.months,
        "start_date": args.start_date,
        "merchants": args.merchants,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = replay_config(args)
    generator = generator_arguments(args)
    result = replay(
        generated_transactions(seed=config.seed, **generator),
        args.out,
        config,
        args.rate,
        args.prefix or replay_prefix(config, generator),
        args.manifest,
        total_events=args.rows,
    )
    summary = {k: v for k, v in result.items() if k not in ("files", "config")}
    print(json.dumps({"files": len(result["files"]), **summary}))


if __name__ == "__main__":
    main()
