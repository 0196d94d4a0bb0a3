"""The disk check before the generator writes: a clear error at once instead of a full disk
minutes in (100M rows in every format take about 22 GiB). SKIP_DISK_CHECK=1 skips it, as it
does scripts/require_disk.sh's.

The estimate is built from what the writer's files take per row, measured on its own output
(seed 42, 10k to 1M rows); each figure is the largest seen, so the estimate is an upper bound
within reason, not an exact size.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from spark_analytics.datagen.config import DatagenConfig, entity_step_sizes
from spark_analytics.datagen.writer import GENERATED_PATHS

# Bytes per transaction line (valid or bad) in each format. Parquet compresses better in larger
# parts: 18.6 bytes per row in parts of 500k rows, 22.3 in 100k, 28.5 in 1k.
BYTES_PER_TRANSACTION = {"csv": 58, "json": 144}
PARQUET_BYTES_PER_ROW = ((100_000, 23), (1_000, 29))  # (smallest part, bytes per row)
PARQUET_BYTES_PER_ROW_SMALLER = 40
BYTES_PER_PART = 4096 + 200  # a part file's last file-system block and its manifest entry
BYTES_PER_CUSTOMER = 145  # 140.9 at 10k customers to 142.5 at 199k: e-mails grow with the count
BYTES_PER_MERCHANT = 16
BYTES_PER_BAD_ROW_ENTRY = 200  # in the manifest, per bad row and format
BYTES_PER_ENTITY_CHANGE = 26  # in the manifest's entity_changes (about 24 seen)
BYTES_FIXED = 64 * 1024  # the rest of the manifest


def _parquet_bytes_per_row(part_rows: int) -> int:
    return next(
        (size for smallest, size in PARQUET_BYTES_PER_ROW if part_rows >= smallest),
        PARQUET_BYTES_PER_ROW_SMALLER,
    )


def estimated_bytes(config: DatagenConfig) -> dict[str, int]:
    """About what each of the generator's outputs takes on disk, at most."""
    lines = config.rows + config.bad_rows
    parts = math.ceil(config.rows / config.chunk_rows)  # the bad rows go into these parts
    part_rows = min(config.rows, config.chunk_rows)
    estimate = {
        f"transactions/{fmt}": lines
        * (_parquet_bytes_per_row(part_rows) if fmt == "parquet" else BYTES_PER_TRANSACTION[fmt])
        + parts * BYTES_PER_PART
        for fmt in config.formats
    }
    steps = config.entity_version - 1
    changes = entity_step_sizes(config.n_customers, config.n_merchants)
    customers = config.n_customers + steps * changes["customers_added"]
    estimate["customers"] = customers * BYTES_PER_CUSTOMER + BYTES_PER_PART
    estimate["merchants"] = config.n_merchants * BYTES_PER_MERCHANT + BYTES_PER_PART
    estimate["manifest.json"] = (
        BYTES_FIXED
        + config.bad_rows * len(config.formats) * BYTES_PER_BAD_ROW_ENTRY
        + steps * sum(changes.values()) * BYTES_PER_ENTITY_CHANGE
    )
    return estimate


def _nearest_existing(path: Path) -> Path:
    return next(folder for folder in (path, *path.parents) if folder.exists())


def _replaced_bytes(out: Path) -> int:
    """What sits at the generator's own paths under ``out``: it removes them first."""
    paths = [out / name for name in GENERATED_PATHS if (out / name).exists()]
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_size for f in files)


def _shown(size: float, unit: int, rounding: Callable[[float], int]) -> str:
    """``size`` bytes in ``unit`` (GiB or MiB) to one decimal, rounded by ``rounding``."""
    return f"{rounding(size / unit * 10) / 10:.1f} {'GiB' if unit == 2**30 else 'MiB'}"


def disk_problem(config: DatagenConfig) -> str | None:
    """Why the generator cannot write ``config``'s files, or None when it can (or is not told
    to check)."""
    out = Path(config.out).absolute()
    if out.exists() and not out.is_dir():
        return f"datagen: --out {out} is a file, not a folder."
    if os.environ.get("SKIP_DISK_CHECK") == "1":
        return None
    replaced = _replaced_bytes(out) if out.exists() else 0
    free = shutil.disk_usage(_nearest_existing(out)).free + replaced
    need = sum(estimated_bytes(config).values())
    if free >= need:
        return None
    # Need rounded up, free rounded down, in one unit: never "needs 1.0 GiB, has 1.0 GiB".
    unit = 2**30 if need >= 2**30 else 2**20
    counting = ""
    if replaced:
        counting = f", counting the {_shown(replaced, unit, math.floor)} of a previous run's files"
    return (
        f"datagen: {config.rows:,} rows in {', '.join(config.formats)} take about "
        f"{_shown(need, unit, math.ceil)} in {out}, which has {_shown(free, unit, math.floor)} "
        f"free{counting}. Free some space there, write fewer rows or formats (--rows, "
        "--formats), or set SKIP_DISK_CHECK=1 to go on without this check."
    )
