"""Command line: ``python -m spark_analytics.datagen --rows N --seed S --out DIR ...``."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from spark_analytics.datagen.config import AUTO_BAD_ROWS, FORMATS, DatagenConfig, auto_bad_rows
from spark_analytics.datagen.disk import disk_problem
from spark_analytics.datagen.writer import write_dataset


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
    p.add_argument(
        "--bad-rows",
        default="0",
        help=f"extra bad rows per format, or auto: {AUTO_BAD_ROWS}, 1 %% of --rows when fewer",
    )
    p.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset")
    p.add_argument("--chunk-rows", type=int, default=500_000, help="valid rows per part file")
    p.add_argument(
        "--entity-version",
        type=int,
        default=1,
        help="write version N of the customers and merchants: N - 1 deterministic change steps "
        "(changed attributes, deletions, additions; see spark_analytics.datagen.versions); "
        "transactions are the same for every N",
    )
    a = p.parse_args(argv)
    try:
        bad_rows = auto_bad_rows(a.rows) if a.bad_rows == "auto" else int(a.bad_rows)
    except ValueError:
        p.error(f"--bad-rows must be a number or auto, got {a.bad_rows!r}")
    config = DatagenConfig(
        rows=a.rows,
        seed=a.seed,
        out=a.out,
        customers=a.customers,
        merchants=a.merchants,
        months=a.months,
        start_date=a.start_date,
        bad_rows=bad_rows,
        formats=tuple(f.strip() for f in a.formats.split(",") if f.strip()),
        chunk_rows=a.chunk_rows,
        entity_version=a.entity_version,
    )
    try:
        return config.validate()
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    problem = disk_problem(config)
    if problem:
        print(problem, file=sys.stderr)
        return 1
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
