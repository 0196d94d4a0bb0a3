"""``python -m spark_analytics.report [--out reports] [--schema analytics]``: writes the report.

Opens the project's metastore (SPARK_STATE_DIR) with ``build_session``, so run it after
``dbt build`` and not while another process holds the embedded metastore.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyspark import SparkContext

from spark_analytics.report import charts, data, page
from spark_analytics.session import build_session


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spark_analytics.report", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument(
        "--schema", default=None, help="base schema (default: DBT_SCHEMA or analytics)"
    )
    return parser.parse_args(argv)


def build_report(out_dir: Path, schema: str | None = None) -> Path:
    """Reads the marts, draws the charts and writes ``out_dir/index.html``; returns the page."""
    chart_dir = out_dir / page.CHART_DIR
    chart_dir.mkdir(parents=True, exist_ok=True)
    for stale in chart_dir.glob("*.png"):
        stale.unlink()
    # A session already running in this process (a notebook's, a program running the report
    # in-process) is the caller's, and stays usable: stopped only if this call started it.
    started_here = SparkContext._active_spark_context is None
    spark = build_session("spark-analytics-report")
    try:
        report_data = data.load(spark, schema)
    finally:
        if started_here:
            spark.stop()
    drawn = charts.draw_all(report_data, chart_dir)
    return page.write(report_data, drawn, out_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    index = build_report(args.out, args.schema)
    charts_written = sorted((args.out / page.CHART_DIR).glob("*.png"))
    print(
        f"Report: {index} ({len(charts_written)} charts in {args.out / page.CHART_DIR}, "
        f"{time.monotonic() - started:.1f} s); open it in a browser, it works offline."
    )
    return 0
