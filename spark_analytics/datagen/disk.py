"""The disk check before the generator writes: a clear error at once instead of a full disk
minutes in (100M rows in every format take about 22 GiB). SKIP_DISK_CHECK=1 skips it, as it
does scripts/require_disk.sh's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from spark_analytics.datagen.config import DatagenConfig
from spark_analytics.datagen.writer import GENERATED_PATHS


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def shortfall(config: DatagenConfig) -> str | None:
    """Why ``config.out``'s disk cannot hold the files, or None when it can (or is not checked).

    The files a previous run wrote there count as free: the generator removes them first.
    """
    if os.environ.get("SKIP_DISK_CHECK") == "1":
        return None
    out = Path(config.out).absolute()
    existing = next(folder for folder in (out, *out.parents) if folder.exists())
    replaced = sum(_size(out / name) for name in GENERATED_PATHS if (out / name).exists())
    free = shutil.disk_usage(existing).free + replaced
    need = config.estimated_bytes
    if free >= need:
        return None
    gib = 2**30
    return (
        f"datagen: {config.rows:,} rows in {', '.join(config.formats)} take about "
        f"{need / gib:.1f} GiB in {out}, which has {int(free / gib * 10) / 10:.1f} GiB free"
        + (f" (with the {replaced / gib:.1f} GiB of files it replaces)" if replaced else "")
        + ". Free some space there, write fewer rows or formats (--rows, --formats), or set "
        "SKIP_DISK_CHECK=1 to go on without this check."
    )
