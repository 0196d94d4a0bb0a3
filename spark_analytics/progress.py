"""Progress bars for the project's long commands, on a terminal only.

One helper around tqdm (rows or files done, rate, ETA): the bar is drawn on stderr when stderr is
a terminal, and disabled in CI (``CI`` set) and in non-TTY output (pipes, logs, pytest), so
captured output stays as it was. Used by data generation, replay, ingest, the benchmarks and the
cluster start-up wait.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def enabled() -> bool:
    """True on an interactive terminal outside CI (``SPARK_ANALYTICS_PROGRESS=0`` turns it off)."""
    if os.environ.get("CI") or os.environ.get("SPARK_ANALYTICS_PROGRESS", "1") == "0":
        return False
    return sys.stderr.isatty()


def bar(total: float | None = None, desc: str = "", unit: str = "it", **kwargs) -> tqdm:
    """A tqdm bar on stderr (a no-op object when disabled); use as a context manager."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit in ("rows", "lines"),
        disable=not enabled(),
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )


def track(
    items: Iterable[T], desc: str = "", unit: str = "it", total: int | None = None
) -> Iterator[T]:
    """Iterates ``items`` with a bar (``total`` defaults to ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with bar(total=total, desc=desc, unit=unit) as progress:
        for item in items:
            yield item
            progress.update(1)


def chunks(
    bounds: Iterable[tuple[int, int]], total: int, desc: str = "", unit: str = "rows"
) -> Iterator[tuple[int, int]]:
    """Iterates ``(lo, hi)`` chunk bounds; the bar advances by ``hi - lo`` as each one is done."""
    with bar(total=total, desc=desc, unit=unit) as progress:
        for lo, hi in bounds:
            yield lo, hi
            progress.update(hi - lo)


def wait(desc: str, timeout: float) -> tqdm:
    """A bar for a wait of at most ``timeout`` seconds; ``tick(bar, started)`` moves it."""
    return bar(total=round(timeout), desc=desc, unit="s", bar_format=WAIT_FORMAT)


WAIT_FORMAT = "{desc}: {elapsed} elapsed, at most {remaining} left |{bar}|"


def tick(progress: tqdm, elapsed: float) -> None:
    """Moves a ``wait`` bar to ``elapsed`` seconds."""
    progress.update(max(0, min(round(elapsed), progress.total or 0) - progress.n))
