"""The generator's disk check (spark_analytics/datagen/disk.py): its estimate against the files
it really writes, and a short disk stopping it before it removes or writes anything."""

from __future__ import annotations

import os
import re
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from spark_analytics.datagen import DatagenConfig, cli, disk
from spark_analytics.datagen.cli import main

Usage = namedtuple("Usage", "total used free")


def _written_bytes(out: Path) -> int:
    return sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("rows", "formats"), [(100_000, ("csv", "json", "parquet")), (30_000, ("parquet",))]
)
def test_the_estimate_covers_the_files_and_is_close(
    tmp_path: Path, rows: int, formats: tuple[str, ...]
) -> None:
    config = DatagenConfig(rows=rows, out=str(tmp_path / "out"), formats=formats, bad_rows=100)
    arguments = ["--rows", str(rows), "--bad-rows", "100", "--formats", ",".join(formats)]
    assert main([*arguments, "--out", config.out]) == 0
    written = _written_bytes(tmp_path / "out")
    assert written <= config.estimated_bytes <= written * 1.25 + 1024 * 1024


def _short_disk(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda path: Usage(10 * 2**30, 0, free))


def test_a_short_disk_stops_before_anything_is_removed_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--rows", "20000", "--out", str(out)]) == 0
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    replaced = _written_bytes(out)
    capsys.readouterr()
    need = DatagenConfig(rows=100_000_000).estimated_bytes
    _short_disk(monkeypatch, need - replaced - 1)

    def write_anyway(config: DatagenConfig) -> None:  # never 22 GiB here, even were the check gone
        raise AssertionError(f"writes {config.rows:,} rows on a short disk")

    monkeypatch.setattr(cli, "write_dataset", write_anyway)
    assert main(["--rows", "100000000", "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert re.fullmatch(
        rf"datagen: 100,000,000 rows in csv, json, parquet take about 2\d\.\d GiB in "
        rf"{re.escape(str(out))}, which has 2\d\.\d GiB free \(with the 0\.0 GiB of files it "
        r"replaces\)\. Free some space there, write fewer rows or formats \(--rows, --formats\), "
        r"or set SKIP_DISK_CHECK=1 to go on without this check\.\n",
        message,
    )
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before
    # One byte more, counting the files it replaces: it goes on (checked, not written).
    _short_disk(monkeypatch, need - replaced)
    assert disk.shortfall(DatagenConfig(rows=100_000_000, out=str(out))) is None


def test_an_output_folder_yet_to_be_made_and_the_way_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = DatagenConfig(rows=20_000, out=str(tmp_path / "not" / "yet"))
    _short_disk(monkeypatch, 1024)
    assert "which has 0.0 GiB free. Free" in disk.shortfall(config)
    monkeypatch.setenv("SKIP_DISK_CHECK", "1")
    assert disk.shortfall(config) is None
    assert main(["--rows", "20000", "--out", config.out]) == 0
    assert (tmp_path / "not" / "yet" / "manifest.json").exists()
    # The real disk, with nothing skipped: 20,000 rows fit.
    monkeypatch.undo()
    assert os.environ.get("SKIP_DISK_CHECK") != "1"
    assert disk.shortfall(config) is None
    assert shutil.disk_usage(tmp_path).free > config.estimated_bytes
