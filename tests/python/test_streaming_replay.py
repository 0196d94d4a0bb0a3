"""The replay tool: what it lands is the clean input plus exactly what the manifest says, and
both are the generator's (spark_analytics.datagen): its JSON lines, its ids, its defects."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from spark_analytics.datagen import DatagenConfig, write_dataset
from spark_analytics.datagen.badrows import STREAM_REASONS
from spark_analytics.streaming.replay import (
    EVENT_COLUMNS,
    ReplayConfig,
    generated_transactions,
    generator_arguments,
    main,
    parse_args,
    plan_batches,
    replay,
    replay_config,
    replay_prefix,
    write_batch_file,
)

CONFIG = ReplayConfig(
    batch_rows=100,
    seed=3,
    late_fraction=0.1,
    late_hours=4,
    duplicate_fraction=0.05,
    malformed_fraction=0.05,
    out_of_order=True,
)


def clean_input(rows: int = 1000) -> list[pd.DataFrame]:
    return list(generated_transactions(rows, seed=3, chunk_rows=300))


def is_timestamp(text: object) -> bool:
    try:
        datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def parsed_lines(lines: list[str]) -> tuple[list[dict], list[str]]:
    good, bad = [], []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
            continue
        is_valid = (
            isinstance(record, dict)
            and set(record) == set(EVENT_COLUMNS)
            and str(record["merchant_id"]).strip()
            and isinstance(record["purchase_amount"], float)
            and record["purchase_amount"] >= 0
            and is_timestamp(record["event_time"])
        )
        (good if is_valid else bad).append(record if is_valid else line)
    return good, bad


def test_every_clean_event_lands_once_plus_the_injected_duplicates_and_bad_lines() -> None:
    chunks = clean_input()
    batches = list(plan_batches(chunks, CONFIG))
    lines = [line for batch in batches for line in batch.lines]
    good, bad = parsed_lines(lines)
    ids = Counter(record["transaction_id"] for record in good)
    expected_ids = set(pd.concat(chunks)["transaction_id"])

    assert set(ids) == expected_ids
    assert sum(ids.values()) - len(ids) == sum(b.duplicates for b in batches) > 0
    assert len(bad) == sum(sum(b.malformed.values()) for b in batches) > 0
    assert sum(b.late for b in batches) > 0


def test_duplicates_are_exact_copies_and_late_events_land_after_the_clock_passed_them() -> None:
    batches = list(plan_batches(clean_input(), CONFIG))
    by_id: dict[str, set[str]] = {}
    first_file: dict[str, int] = {}
    clock: list[pd.Timestamp] = []  # largest event_time landed up to and including each file
    for batch in batches:
        good, _ = parsed_lines(batch.lines)
        for record in good:
            by_id.setdefault(record["transaction_id"], set()).add(json.dumps(record))
            first_file.setdefault(record["transaction_id"], batch.seq)
        times = [pd.Timestamp(r["event_time"]) for r in good]
        clock.append(max([*times, *clock[-1:]]))
    assert all(len(copies) == 1 for copies in by_id.values())

    # some event lands in a later file than one already holding a later event_time
    late = [
        tid
        for tid, seq in first_file.items()
        if seq > 0
        and pd.Timestamp(json.loads(next(iter(by_id[tid])))["event_time"]) < clock[seq - 1]
    ]
    assert late


def test_plan_is_deterministic_for_a_seed() -> None:
    first = [b.lines for b in plan_batches(clean_input(300), CONFIG)]
    second = [b.lines for b in plan_batches(clean_input(300), CONFIG)]
    assert first == second


def test_replay_writes_whole_files_and_a_manifest(tmp_path: Path) -> None:
    result = replay(clean_input(500), tmp_path / "landing", CONFIG, prefix="t")
    files = sorted((tmp_path / "landing").glob("*.jsonl"))
    assert [f.name for f in files] == [f["name"] for f in result["files"]]
    assert not list((tmp_path / "landing").glob(".*"))  # no temp files left behind
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert len(lines) == result["lines"] == result["valid_lines"] + result["malformed_lines"]
    assert result["source_events"] == 500
    assert set(result["malformed_by_reason"]) <= set(STREAM_REASONS)
    saved = json.loads((tmp_path / "landing" / "_manifests" / "t.json").read_text())
    assert saved == json.loads(json.dumps(result))


def test_cli_throttles_to_the_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path), "--rows", "400", "--batch-rows", "100", "--rate", "1000"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == 4 and summary["source_events"] == 400
    landed = [
        f["landed_at"] for f in json.loads(next(tmp_path.glob("_manifests/*")).read_text())["files"]
    ]
    assert landed[-1] - landed[0] >= 0.25  # 300 events after the first file at 1000/s


def test_the_same_cli_replay_again_lands_no_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make stream` twice: the ingest, which reads a path once, gets nothing twice."""
    args = ["--out", str(tmp_path), "--rows", "300", "--batch-rows", "100"]
    args += ["--malformed-fraction", "0.05", "--duplicate-fraction", "0.05"]

    def landed() -> dict[str, tuple[str, int]]:
        return {p.name: (p.read_text(), p.stat().st_mtime_ns) for p in tmp_path.glob("*.jsonl")}

    main(args)
    first = landed()
    assert len(first) >= 3
    main(args)
    assert landed() == first  # the same names and lines, not written again
    main([*args, "--seed", "7"])  # another replay: files of its own beside them
    assert len(landed()) > len(first) and landed().items() >= first.items()
    capsys.readouterr()


BASE_ARGS = ["--out", "landing", "--rows", "300"]


def cli_prefix(*extra: str) -> str:
    args = parse_args([*BASE_ARGS, *extra])
    return replay_prefix(replay_config(args), generator_arguments(args))


@pytest.mark.parametrize(
    ("extra", "same_files"),
    [
        (["--out", "elsewhere"], True),
        (["--rate", "50"], True),
        (["--manifest", "m.json"], True),
        (["--rows", "301"], False),
        (["--batch-rows", "50"], False),
        (["--late-fraction", "0.1"], False),
        (["--late-hours", "5"], False),
        (["--duplicate-fraction", "0.1"], False),
        (["--malformed-fraction", "0.1"], False),
        (["--out-of-order"], False),
        (["--months", "2"], False),
        (["--start-date", "2026-02-01"], False),
        (["--merchants", "60"], False),
    ],
)
def test_the_cli_names_files_by_what_decides_their_lines(
    extra: list[str], same_files: bool
) -> None:
    assert (cli_prefix(*extra) == cli_prefix()) is same_files


def test_a_landed_file_is_never_replaced_by_other_lines(tmp_path: Path) -> None:
    write_batch_file(tmp_path, "a.jsonl", ["x"])
    with pytest.raises(FileExistsError, match="another --prefix"):
        write_batch_file(tmp_path, "a.jsonl", ["y"])
    assert (tmp_path / "a.jsonl").read_text() == "x\n"


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="late_fraction"):
        ReplayConfig(late_fraction=1.5)


def test_clean_lines_are_the_generators_json_lines(tmp_path: Path) -> None:
    config = DatagenConfig(rows=300, seed=3, months=1, formats=("json",), out=str(tmp_path))
    write_dataset(config)
    written = (tmp_path / "transactions" / "json" / "part-00000.jsonl").read_text().splitlines()
    batches = plan_batches(clean_input(300), ReplayConfig(batch_rows=100, seed=3))
    assert [line for batch in batches for line in batch.lines] == written


def test_bad_lines_are_the_generators_defects_with_its_ids() -> None:
    config = ReplayConfig(batch_rows=100, seed=3, malformed_fraction=0.2)
    batches = list(plan_batches(clean_input(1000), config))
    reasons = Counter()
    for batch in batches:
        reasons.update(batch.malformed)
    assert set(reasons) == set(STREAM_REASONS)  # every kind is injected at this rate
    _, bad = parsed_lines([line for batch in batches for line in batch.lines])
    assert len(bad) == sum(reasons.values())
    ids = [line.split('"transaction_id":"')[1][:12] for line in bad if '"transaction_id":"' in line]
    ids += [line.split("transaction_id=")[1][:12] for line in bad if "transaction_id=" in line]
    assert len(ids) == len(bad)
    assert all(tid.startswith("tbad") and tid[4:].isdigit() for tid in ids)
