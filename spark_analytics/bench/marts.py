"""`make bench`: the marts path in dbt, as a hand-written PySpark job, and on DuckDB, side by side.

    python -m spark_analytics.bench.marts --sizes 1000000 10000000 --repeat 3

For each size it generates data once (``bench/<rows>/``, git-ignored), builds the path once
untimed (the seed, the sources' registration, the models: their compiled SQL is what DuckDB
runs), then runs ``--repeat`` rounds, each arm once per round in a rotating order (so no arm
always runs on a warm page cache; ``round_orders``):

1. ``dbt run`` of the marts path (staging -> intermediate -> quarantine -> marts), and
   ``dbt build`` of the whole project (models, ML, tests), on the embedded target;
2. the same path as one plain PySpark job (``marts_job``: same rules, same outputs, the same
   Spark settings from ``spark_analytics.settings``);
3. the same SQL on DuckDB (``duckdb_marts``: dbt's compiled SQL transpiled by sqlglot);
4. with ``--warm-server``, ``dbt build`` of the whole project on a local-mode server kept warm
   between builds (``server``: the cluster package's ``CLUSTER_WORKERS=0``, the `cluster`
   target), after ``--server-warmup`` untimed builds.

Each ``dbt build`` arm is followed, outside the rotation, by ``dbt test`` on the same target
(``TEST_AFTER``: it reads the tables that build just wrote, on a warm page cache), timed as an
arm of its own: what a user waits for when only the checks run. ``--skip-tests`` leaves them out.

It quotes medians of wall time, CPU time (whole process tree, JVM included), peak memory and
rows/s, the ratios of every arm that writes the marts to the PySpark job and to DuckDB (not of
the `dbt test` arms, which write none), where dbt's time goes (``dbt_breakdown``), its critical
path and threads (``critical_path``), and the scaling exponent over the sizes; checks that the
arms wrote the same tables (``agree``; a disagreement fails the run); then runs the declarative hint
comparison (``hints``) on the smallest size. Everything is printed and written to ``--out``
(``bench.json``, ``bench.md``, ``bench.png``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from spark_analytics import progress, warehouse
from spark_analytics.bench import agree, critical_path, server
from spark_analytics.bench.dbt_breakdown import breakdown, configured_threads, events
from spark_analytics.bench.measure import Measurement, measure
from spark_analytics.bench.path import DBT_SELECTION, OUTPUT_TABLES

REPO = Path(__file__).resolve().parents[2]
MARTS_PATH = list(DBT_SELECTION)
DBT_SCHEMAS = {
    table: "analytics_quarantine" if table.startswith("quarantine_") else "analytics_marts"
    for table in OUTPUT_TABLES
}
RUN_ARM = "dbt run (marts path)"
BUILD_ARM = "dbt build (whole project)"
TEST_ARM = "dbt test (whole project)"
ARMS = (RUN_ARM, BUILD_ARM, "PySpark job", "DuckDB")
# A build arm's `dbt test`, run right after it in every round (not in the rotation).
TEST_AFTER = {BUILD_ARM: TEST_ARM, server.ARM: server.TEST_ARM}
BUILD_OF = {test: build for build, test in TEST_AFTER.items()}  # the test arms: they write no marts
REFERENCE_ARMS = ("PySpark job", "DuckDB")


@dataclass
class ArmResult:
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)
    dbt_breakdowns: list[dict[str, float]] = field(default_factory=list)
    # Each dbt run's critical path and threads (critical_path.summary; None: none recorded).
    dbt_schedules: list[critical_path.Schedule | None] = field(default_factory=list)
    warmup_s: list[float] = field(default_factory=list)  # untimed builds before the rounds

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))


@dataclass(frozen=True)
class Workspace:
    """One size's data and state, isolated from the project's own `.spark` and `data`."""

    root: Path
    rows: int

    @property
    def generated(self) -> Path:
        return self.root / "data" / "generated"

    @property
    def target(self) -> Path:
        return self.root / "target"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SPARK_STATE_DIR": str(self.root / "spark"),
            "DATA_DIR": str(self.root / "data"),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.root / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "SPARK_ANALYTICS_PROGRESS": "0",
        }

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    def outputs(self, with_server: bool = False) -> dict[str, dict[str, Path]]:
        dbt_warehouse = self.root / "spark" / "warehouse"
        found = {
            "dbt": {
                table: warehouse.table_path(dbt_warehouse, schema, table)
                for table, schema in DBT_SCHEMAS.items()
            },
            "PySpark job": {t: self.root / "pyspark" / t for t in OUTPUT_TABLES},
            "DuckDB": {t: self.root / "duckdb" / f"{t}.parquet" for t in OUTPUT_TABLES},
        }
        if with_server:
            found["dbt on the local server"] = {
                table: warehouse.table_path(self.server_dir / "warehouse", schema, table)
                for table, schema in DBT_SCHEMAS.items()
            }
        return found


def _dbt(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dbt"), *args, "--log-format-file", "json"]


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def arm_command(arm: str, space: Workspace) -> list[str]:
    if arm == RUN_ARM:
        return _dbt("run", "-s", *MARTS_PATH)
    if arm == BUILD_ARM:
        return _dbt("build")
    if arm == TEST_ARM:
        return _dbt("test")
    if arm == server.ARM:
        return _dbt(*server.DBT_ARGS)
    if arm == server.TEST_ARM:
        return _dbt(*server.DBT_TEST_ARGS)
    if arm == "PySpark job":
        out = space.root / "pyspark"
        return _python(
            "spark_analytics.bench.marts_job", "--data", str(space.generated), "--out", str(out)
        )
    manifest = space.root / "compiled" / "manifest.json"
    out = space.root / "duckdb"
    return _python(
        "spark_analytics.bench.duckdb_marts",
        *("--manifest", str(manifest), "--data", str(space.generated), "--out", str(out)),
    )


def _checked(result: Measurement | subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise SystemExit(
            f"{what} failed (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
        )


def _generated_rows(manifest: Path) -> tuple[int, int]:
    found = json.loads(manifest.read_text())
    return found["counts"]["transactions"]["csv"]["valid_rows"], found["seed"]


def prepare(space: Workspace, seed: int) -> None:
    """Data (kept between runs), the seed, the sources, and the compiled SQL for DuckDB."""
    manifest = space.generated / "manifest.json"
    if not (manifest.exists() and _generated_rows(manifest) == (space.rows, seed)):
        shutil.rmtree(space.root, ignore_errors=True)
        print(f"generating {space.rows:,} transactions into {space.generated}", flush=True)
        _checked(
            subprocess.run(
                _python(
                    "spark_analytics.datagen",
                    *("--rows", str(space.rows), "--seed", str(seed), "--bad-rows", "0"),
                    *("--out", str(space.generated)),
                ),
                env=space.env(),
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            ),
            "data generation",
        )
    # One dbt process (each pays a cold JVM): the path's seed and models, which also registers
    # the sources. Its manifest holds each model's compiled SQL for the DuckDB arm, kept apart
    # because the timed dbt arms rewrite the target folder.
    build = _dbt("build", "-s", *MARTS_PATH, "--exclude-resource-type", "test", "unit_test")
    _checked(
        subprocess.run(
            build, env=space.env(), cwd=REPO, capture_output=True, text=True, check=False
        ),
        "dbt build of the path",
    )
    compiled = space.root / "compiled"
    shutil.rmtree(compiled, ignore_errors=True)  # a former `dbt compile` target's files
    compiled.mkdir(parents=True)
    shutil.copyfile(space.target / "manifest.json", compiled / "manifest.json")


def run_arm(
    arm: str, space: Workspace, result: ArmResult, on: server.LocalServer | None = None
) -> None:
    """One timed run of ``arm``; the server's arms run ``on`` its server (given to every arm,
    used by those), whose CPU and memory count with dbt's."""
    if arm not in server.ON_SERVER:
        on = None
    elif on is None:
        raise ValueError(f"{arm}: runs on the local server, and none was started")
    env = on.env if on else space.env()
    log_file = Path(env["DBT_LOG_PATH"]) / "dbt.log"
    log_file.unlink(missing_ok=True)
    target = Path(env["DBT_TARGET_PATH"])
    if arm.startswith("dbt"):
        for earlier in (target / "run_results.json", target / "graph_summary.json"):
            earlier.unlink(missing_ok=True)  # an earlier command's, read as this one's otherwise
    started_at = time.time()
    measured = measure(arm_command(arm, space), env=env, cwd=REPO, also=on.members if on else None)
    _checked(measured, arm)
    result.wall_s.append(measured.wall_s)
    result.cpu_s.append(measured.cpu_s)
    result.peak_rss_bytes.append(measured.peak_rss_bytes)
    if arm.startswith("dbt") and log_file.exists():
        log = events(log_file)
        result.dbt_breakdowns.append(breakdown(log, started_at, measured.wall_s))
        result.dbt_schedules.append(critical_path.summary(target, configured_threads(log)))


def bench_size(
    space: Workspace, arms: list[str], repeat: int, seed: int, warmup: int = 0
) -> dict[str, ArmResult]:
    if server.ARM in arms:  # before `prepare`, which may delete its state folder
        server.stop_leftover(space.server_dir, space.env(), REPO)
    prepare(space, seed)
    results = {arm: ArmResult() for arm in arms}
    rounds = round_orders(arms, repeat)
    with contextlib.ExitStack() as stack:
        on = None
        if server.ARM in arms:
            on = stack.enter_context(server.local_server(space.server_dir, space.env(), REPO))
            for _ in range(warmup):
                warming = ArmResult()
                run_arm(server.ARM, space, warming, on)
                results[server.ARM].warmup_s += warming.wall_s
        with progress.bar(
            total=sum(map(len, rounds)), desc=f"bench {space.rows:,} rows", unit="runs"
        ) as bar:
            for order in rounds:
                for arm in order:
                    run_arm(arm, space, results[arm], on)
                    bar.update()
    return results


def selected_arms(skip_build: bool, warm_server: bool, skip_tests: bool) -> list[str]:
    """The arms a run times, each `dbt test` right after its build."""
    arms = [arm for arm in ARMS if not (skip_build and arm == BUILD_ARM)]
    arms += [server.ARM] if warm_server else []
    return [
        timed
        for arm in arms
        for timed in (arm, None if skip_tests else TEST_AFTER.get(arm))
        if timed is not None
    ]


def round_orders(arms: list[str], repeat: int) -> list[list[str]]:
    """Each round's runs: the arms in an order rotated by one per round, each build's `dbt test`
    right after it (it reads that build's tables). A `dbt test` arm without its build is
    refused."""
    orphans = [arm for arm in arms if arm in BUILD_OF and BUILD_OF[arm] not in arms]
    if orphans:
        raise ValueError(f"{orphans}: a `dbt test` arm runs only after its build")
    rotating = [arm for arm in arms if arm not in BUILD_OF]
    return [
        [
            timed
            for arm in rotating[i % len(rotating) :] + rotating[: i % len(rotating)]
            for timed in (arm, TEST_AFTER.get(arm))
            if timed in arms
        ]
        for i in range(repeat)
    ]


def _median_run(result: ArmResult) -> int:
    """The index of the run whose wall time is the median."""
    ranked = sorted(range(len(result.wall_s)), key=result.wall_s.__getitem__)
    return ranked[len(ranked) // 2]


def median_breakdown(result: ArmResult) -> dict[str, float]:
    """The breakdown of the run whose wall time is the median."""
    if not result.dbt_breakdowns:
        return {}
    return result.dbt_breakdowns[_median_run(result)]


def median_schedule(result: ArmResult) -> critical_path.Schedule | None:
    """The critical path and threads of the run whose wall time is the median."""
    if not result.dbt_schedules:
        return None
    return result.dbt_schedules[_median_run(result)]


def scaling_exponent(rows: list[int], seconds: list[float]) -> float | None:
    """b in seconds ~ rows^b, least squares on logs (None with fewer than two sizes)."""
    if len(rows) < 2:
        return None
    xs, ys = [math.log(r) for r in rows], [math.log(s) for s in seconds]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )


def summary_rows(rows: int, results: dict[str, ArmResult]) -> list[dict[str, object]]:
    medians = {arm: r.median("wall_s") for arm, r in results.items()}
    table = []
    for arm, result in results.items():
        wall = medians[arm]
        writes_the_marts = arm not in BUILD_OF
        table.append(
            {
                "rows": rows,
                "arm": arm,
                "wall_s": wall,
                "wall_s_rounds": [round(seconds, 1) for seconds in result.wall_s],
                "cpu_s": result.median("cpu_s"),
                "peak_rss_gib": max(result.peak_rss_bytes) / 2**30,
                "rows_per_s": rows / wall,
                **{
                    f"x {ref}": wall / medians[ref]
                    for ref in REFERENCE_ARMS
                    if ref in medians and writes_the_marts
                },
            }
        )
    return table


def machine() -> dict[str, object]:
    import psutil

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def format_table(rows: list[dict[str, object]]) -> str:
    header = (
        "| rows | arm | wall s | each round | CPU s | peak GiB | rows/s "
        f"| x PySpark job | x DuckDB |\n|{'---|' * 9}"
    )
    lines = [header]
    for row in rows:
        ratios = [f"{row[f'x {ref}']:.2f}" if f"x {ref}" in row else "" for ref in REFERENCE_ARMS]
        rounds = " / ".join(f"{seconds:.1f}" for seconds in row.get("wall_s_rounds", []))
        lines.append(
            f"| {row['rows']:,} | {row['arm']} | {row['wall_s']:.1f} | {rounds} "
            f"| {row['cpu_s']:.1f} | {row['peak_rss_gib']:.2f} | {row['rows_per_s']:,.0f} "
            f"| {' | '.join(ratios)} |"
        )
    return "\n".join(lines)


def format_breakdown(parts: dict[str, float]) -> str:
    total = sum(parts.values()) or 1.0
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    return "\n".join(
        f"| {name} | {seconds:.1f} | {100 * seconds / total:.0f}% |" for name, seconds in ranked
    )


def draw_chart(
    rows: list[dict[str, object]], breakdown_parts: dict[str, float], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({int(r["rows"]) for r in rows})
    arms = list(dict.fromkeys(str(r["arm"]) for r in rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        walls = [
            next(float(r["wall_s"]) for r in rows if r["arm"] == arm and r["rows"] == s)
            for s in sizes
        ]
        positions = [j + i * width for j in range(len(sizes))]
        left.bar(positions, walls, width, label=arm)
    left.set_xticks(
        [j + width * (len(arms) - 1) / 2 for j in range(len(sizes))], [f"{s:,}" for s in sizes]
    )
    left.set_yscale("log")
    left.set_ylabel("median wall time (s, log scale)")
    left.set_xlabel("transactions")
    left.set_title("dbt vs the hand-written PySpark job vs DuckDB, each arm")
    left.legend(fontsize=8)
    ranked = sorted(breakdown_parts.items(), key=lambda item: -item[1])[:12]
    right.barh([name for name, _ in ranked][::-1], [s for _, s in ranked][::-1], color="tab:blue")
    right.set_xlabel("seconds")
    right.set_title(f"where dbt run's time goes at {sizes[-1]:,} rows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_hints(space: Workspace, repeat: int) -> str:
    result = subprocess.run(
        _python(
            "spark_analytics.bench.hints", "--data", str(space.generated), "--repeat", str(repeat)
        ),
        env=space.env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    _checked(result, "hints benchmark")
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench")
    parser.add_argument(
        "--skip-build",
        action="store_true",
        help="leave out `dbt build` (and its `dbt test`) on the embedded target",
    )
    parser.add_argument(
        "--skip-tests", action="store_true", help="leave out `dbt test` after each `dbt build`"
    )
    parser.add_argument("--skip-hints", action="store_true", help="leave out the hint comparison")
    parser.add_argument(
        "--warm-server",
        action="store_true",
        help="add `dbt build` (and its `dbt test`) on a local-mode server kept warm between builds",
    )
    parser.add_argument(
        "--server-warmup",
        type=int,
        default=2,
        help="untimed builds on the server before the rounds (default 2)",
    )
    args = parser.parse_args(argv)
    # A stop (CI's cancel, `timeout`, a closed terminal) unwinds like Ctrl-C, so the local
    # server, in a session of its own, is stopped too.
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, lambda number, _frame: sys.exit(128 + number))
    if args.server_warmup < 0:
        parser.error("--server-warmup must be 0 or more")
    arms = selected_arms(args.skip_build, args.warm_server, args.skip_tests)
    args.out.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, object]] = []
    breakdowns: dict[int, dict[str, dict[str, float]]] = {}
    schedules: dict[int, dict[str, critical_path.Schedule | None]] = {}
    warmups: dict[int, list[float]] = {}
    problems: list[str] = []
    for size in sorted(args.sizes):
        space = Workspace(args.workdir / str(size), size)
        results = bench_size(space, arms, args.repeat, args.seed, args.server_warmup)
        if args.warm_server:
            warmups[size] = results[server.ARM].warmup_s
        rows += summary_rows(size, results)
        breakdowns[size] = {
            a: median_breakdown(r) for a, r in results.items() if a.startswith("dbt")
        }
        schedules[size] = {a: median_schedule(r) for a, r in results.items() if a.startswith("dbt")}
        outputs = space.outputs(with_server=args.warm_server)
        found = agree.compare_arms(outputs)
        problems += [f"{size:,} rows: {p}" for p in found]
        if len(args.sizes) > 1:  # this size's results before the next size starts
            print(format_table([r for r in rows if r["rows"] == size]), flush=True)
        print(
            f"outputs agree at {size:,} rows: {'yes' if not found else 'NO'} "
            f"({len(OUTPUT_TABLES)} tables, {' = '.join(outputs)})",
            flush=True,
        )

    exponents = {
        arm: scaling_exponent(
            [int(r["rows"]) for r in rows if r["arm"] == arm],
            [float(r["wall_s"]) for r in rows if r["arm"] == arm],
        )
        for arm in arms
    }
    largest = max(args.sizes)
    hints = (
        ""
        if args.skip_hints
        else run_hints(Workspace(args.workdir / str(min(args.sizes)), min(args.sizes)), args.repeat)
    )
    report = {
        "machine": machine(),
        "repeat": args.repeat,
        "results": rows,
        "dbt_breakdown": {str(k): v for k, v in breakdowns.items()},
        "dbt_schedule": {str(k): v for k, v in schedules.items()},
        "scaling_exponent": exponents,
        "outputs_agree": not problems,
        "compared": list(outputs),  # the same arms at every size
        "problems": problems,
        "hints": hints,
        "server_warmup_s": {str(size): walls for size, walls in warmups.items()},
    }
    (args.out / "bench.json").write_text(json.dumps(report, indent=2))
    draw_chart(rows, breakdowns[largest].get(RUN_ARM, {}), args.out / "bench.png")
    markdown = render_markdown(report, largest)
    (args.out / "bench.md").write_text(markdown)
    print(markdown)
    print(f"written: {args.out / 'bench.md'}, {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    if problems:
        print("OUTPUTS DISAGREE:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


def render_markdown(report: dict, largest: int) -> str:
    m = report["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}.",
        f"Median of {report['repeat']} rounds, arms alternating; each `dbt test` right after "
        "its build.",
        "",
        format_table(report["results"]),
        "",
        f"Outputs agree ({' = '.join(report['compared'])} on every table): "
        + ("yes" if report["outputs_agree"] else "NO: " + "; ".join(report["problems"])),
        "",
        *[
            f"The local server's untimed warm-up builds at {int(size):,} rows: "
            + " / ".join(f"{wall:.1f}" for wall in walls)
            + " s (the first on a cold JVM).\n"
            for size, walls in report["server_warmup_s"].items()
            if walls
        ],
        "Scaling exponent b (wall ~ rows^b): "
        + (
            ", ".join(
                f"{arm} {b:.2f}" for arm, b in report["scaling_exponent"].items() if b is not None
            )
            or "needs two sizes or more"
        ),
        "",
    ]
    for arm, parts in report["dbt_breakdown"][str(largest)].items():
        lines += [
            f"Where `{arm}` spends its time at {largest:,} rows:",
            "",
            "| part | s | share |",
            "|---|---|---|",
            format_breakdown(parts),
            "",
        ]
        schedule = report["dbt_schedule"][str(largest)].get(arm)
        if schedule:
            lines += [critical_path.format_summary(schedule), ""]
    if report["hints"]:
        lines += [
            "Declarative hints (`spark_analytics.bench.hints`):",
            "",
            "```",
            report["hints"],
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
