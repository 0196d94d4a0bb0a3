"""The generator's disk check (spark_analytics/datagen/disk.py): its estimate against the files
it really writes, output by output, and a short disk stopping it before it removes or writes
anything."""

from __future__ import annotations

import re
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from spark_analytics.datagen import DatagenConfig, cli, disk
from spark_analytics.datagen.cli import main

Usage = namedtuple("Usage", "total used free")


@pytest.fixture(autouse=True)
def _checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKIP_DISK_CHECK", raising=False)  # make test's own way round its check


def _written(out: Path) -> dict[str, int]:
    """Apparent bytes per output, keyed as disk.estimated_bytes keys them."""
    sizes: dict[str, int] = {}
    for path in out.rglob("*"):
        if path.is_file():
            parts = path.relative_to(out).parts
            key = "/".join(parts[:2]) if parts[0] == "transactions" else parts[0]
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sizes


@pytest.mark.parametrize(
    "arguments",
    [
        ["--rows", "100000", "--bad-rows", "100"],  # make run's shape
        ["--rows", "5000", "--bad-rows", "5000"],  # as many bad rows as valid ones
        ["--rows", "20000", "--customers", "30000", "--entity-version", "100"],
        ["--rows", "50000", "--chunk-rows", "1000", "--formats", "parquet"],
        ["--rows", "2000", "--merchants", "89999", "--formats", "csv"],
    ],
)
def test_the_estimate_covers_each_output_and_is_close(tmp_path: Path, arguments: list[str]) -> None:
    out = tmp_path / "out"
    assert main([*arguments, "--out", str(out)]) == 0
    estimate = disk.estimated_bytes(cli.parse_args([*arguments, "--out", str(out)]))
    written = _written(out)
    assert set(written) == set(estimate)
    for output, size in written.items():
        assert size <= estimate[output] <= size * 1.3 + 100_000, output


def _short_disk(monkeypatch: pytest.MonkeyPatch, free: int) -> list[str]:
    """Every folder disk_usage is asked about, while it reports ``free`` bytes."""
    asked: list[str] = []

    def usage(path: str) -> Usage:
        asked.append(str(path))
        return Usage(10 * 2**30, 0, free)

    monkeypatch.setattr(disk.shutil, "disk_usage", usage)
    return asked


def test_a_short_disk_stops_before_anything_is_removed_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--rows", "20000", "--out", str(out)]) == 0
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    replaced = sum(_written(out).values())
    capsys.readouterr()
    config = DatagenConfig(rows=100_000_000, out=str(out))
    need = sum(disk.estimated_bytes(config).values())
    asked = _short_disk(monkeypatch, need - replaced - 1)

    def write_anyway(config: DatagenConfig) -> None:  # never 22 GiB here, even were the check gone
        raise AssertionError(f"writes {config.rows:,} rows on a short disk")

    monkeypatch.setattr(cli, "write_dataset", write_anyway)
    assert main(["--rows", "100000000", "--out", str(out)]) == 1
    need_shown = f"{need / 2**30 + 0.05:.1f}"  # rounded up
    free_shown = f"{(need - 1) / 2**30 - 0.05:.1f}"  # rounded down
    assert capsys.readouterr().err == (
        f"datagen: 100,000,000 rows in csv, json, parquet take about {need_shown} GiB in {out}, "
        f"which has {free_shown} GiB free, counting the 0.0 GiB of a previous run's files. "
        "Free some space there, write fewer rows or formats (--rows, --formats), or set "
        "SKIP_DISK_CHECK=1 to go on without this check.\n"
    )
    assert asked == [str(out)]
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before
    # One byte more, counting the files it replaces: enough.
    _short_disk(monkeypatch, need - replaced)
    assert disk.disk_problem(config) is None


def test_a_folder_yet_to_be_made_a_file_and_the_way_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = DatagenConfig(rows=20_000, out=str(tmp_path / "not" / "yet"))
    asked = _short_disk(monkeypatch, 1024)
    problem = disk.disk_problem(config)
    assert re.search(r"take about [\d.]+ MiB in .*/not/yet, which has 0\.0 MiB free\. ", problem)
    assert asked == [str(tmp_path)]  # the nearest folder that exists
    (tmp_path / "afile").write_text("")
    assert disk.disk_problem(DatagenConfig(out=str(tmp_path / "afile"))) == (
        f"datagen: --out {tmp_path / 'afile'} is a file, not a folder."
    )
    monkeypatch.setenv("SKIP_DISK_CHECK", "1")
    assert disk.disk_problem(config) is None
    assert main(["--rows", "20000", "--out", config.out]) == 0
    assert (tmp_path / "not" / "yet" / "manifest.json").exists()
    # The real disk, checked: 20,000 rows fit.
    monkeypatch.undo()
    monkeypatch.delenv("SKIP_DISK_CHECK", raising=False)
    assert disk.disk_problem(config) is None
    assert shutil.disk_usage(tmp_path).free > sum(disk.estimated_bytes(config).values())
