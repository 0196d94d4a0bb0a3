"""The report's charts: matplotlib on the Agg backend (no display), one PNG per chart.

Each function draws rows already computed by Spark (``report.data``) and returns the PNG's file
name under ``out_dir``, or None when its section has nothing to draw.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from spark_analytics.report.data import ReportData, Section  # noqa: E402

DPI = 100
SEGMENT_COLOURS = {
    "High Value": "#1b7837",
    "Medium Value": "#5aae61",
    "Low Value": "#a6dba0",
    "No purchases": "#bbbbbb",
}


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=DPI, format="png")
    return name


def _colours(labels: list[str]) -> list[str]:
    return [SEGMENT_COLOURS.get(label, "#4575b4") for label in labels]


def sales_by_segment(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    labels = [row["purchase_segment"] for row in section.rows]
    fig = Figure(figsize=(9, 3.6))
    sales, counts = fig.subplots(1, 2)
    sales.bar(labels, [float(row["total_sales"]) for row in section.rows], color=_colours(labels))
    sales.set_title("Total sales by purchase segment")
    sales.set_ylabel("sales")
    counts.bar(labels, [row["transaction_count"] for row in section.rows], color=_colours(labels))
    counts.set_title("Purchases by purchase segment")
    counts.set_ylabel("purchases")
    return _save(fig, out_dir, "sales_by_segment.png")


def customer_segments(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    labels = [row["customer_segment"] for row in section.rows]
    fig = Figure(figsize=(6, 3.6))
    axes = fig.subplots()
    axes.barh(labels, [row["customers"] for row in section.rows], color=_colours(labels))
    axes.invert_yaxis()
    axes.set_title("Customers by segment (average purchase)")
    axes.set_xlabel("customers")
    return _save(fig, out_dir, "customer_segments.png")


def _top_bars(rows: list[dict], label_key: str, title: str, out_dir: Path, name: str) -> str:
    labels = [str(row[label_key]) for row in rows]
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.2))
    axes = fig.subplots()
    axes.barh(labels, [float(row["total_sales"]) for row in rows], color="#4575b4")
    axes.invert_yaxis()
    axes.set_title(title)
    axes.set_xlabel("sales")
    return _save(fig, out_dir, name)


def top_merchants(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    rows = [
        {**row, "label": f"{row['merchant_name'] or row['merchant_id']} ({row['merchant_id']})"}
        for row in section.rows
    ]
    return _top_bars(rows, "label", "Top merchants by sales", out_dir, "top_merchants.png")


def top_categories(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    return _top_bars(
        section.rows, "category_name", "Top categories by sales", out_dir, "top_categories.png"
    )


def hourly_curves(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    by_merchant: dict[str, dict[int, int]] = defaultdict(dict)
    for point in section.extra["curve"]:
        by_merchant[point["merchant_id"]][point["hour_of_day"]] = point["transaction_count"]
    fig = Figure(figsize=(9, 4))
    axes = fig.subplots()
    hours = list(range(24))
    for row in section.rows:
        counts = by_merchant.get(row["merchant_id"], {})
        label = f"{row['merchant_name'] or ''} ({row['merchant_id']})".strip()
        axes.plot(hours, [counts.get(hour, 0) for hour in hours], marker="o", label=label)
    axes.set_xticks(hours[::2])
    axes.set_xlabel("hour of day (UTC)")
    axes.set_ylabel("transactions")
    axes.set_title("Hourly transactions of the busiest merchants (stream)")
    axes.legend(fontsize="small")
    return _save(fig, out_dir, "hourly_merchants.png")


def model_curves(section: Section, out_dir: Path) -> str | None:
    points = section.extra.get("curve") or []
    if not points:
        return None
    # From the highest threshold down; the curves start at (0, 0) / recall 0.
    fpr = [0.0] + [float(point["fpr"]) for point in points]
    tpr = [0.0] + [float(point["tpr"]) for point in points]
    precision = [float(point["precision"]) for point in points]
    recall = [float(point["tpr"]) for point in points]
    fig = Figure(figsize=(9, 4))
    roc, pr = fig.subplots(1, 2)
    roc.plot(fpr, tpr, color="#d73027", label="model")
    roc.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="chance")
    roc.set_title("ROC curve (test snapshot)")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    roc.legend(loc="lower right")
    pr.plot(recall, precision, color="#4575b4")
    pr.set_title("Precision-recall curve (test snapshot)")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    pr.set_ylim(0, 1.02)
    return _save(fig, out_dir, "model_curves.png")


def score_distribution(section: Section, out_dir: Path) -> str | None:
    histogram = section.extra.get("histogram") or []
    if not histogram:
        return None
    bins = section.extra["bins"]
    width = 1 / bins
    fig = Figure(figsize=(7, 3.6))
    axes = fig.subplots()
    axes.bar(
        [row["bin"] * width for row in histogram],
        [row["customers"] for row in histogram],
        width=width,
        align="edge",
        color="#fdae61",
        edgecolor="#7f3b08",
    )
    axes.set_xlim(0, 1)
    axes.set_xlabel("P(purchase in the next 30 days)")
    axes.set_ylabel("customers")
    axes.set_title("Score distribution (current customers)")
    return _save(fig, out_dir, "score_distribution.png")


def quarantine(section: Section, out_dir: Path) -> str | None:
    if not section.rows:
        return None
    labels = [f"{row['source_relation']}: {row['rejection_reason']}" for row in section.rows]
    fig = Figure(figsize=(8, 0.4 * len(labels) + 1.2))
    axes = fig.subplots()
    axes.barh(labels, [row["rejected_rows"] for row in section.rows], color="#d73027")
    axes.invert_yaxis()
    axes.set_title("Rejected rows per source and reason")
    axes.set_xlabel("rows")
    return _save(fig, out_dir, "quarantine.png")


def draw_all(data: ReportData, out_dir: Path) -> dict[str, str | None]:
    """Draws every chart; returns section -> PNG file name (None: nothing to draw)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "segments": sales_by_segment(data.segments, out_dir),
        "customer_segments": customer_segments(data.customer_segments, out_dir),
        "top_merchants": top_merchants(data.top_merchants, out_dir),
        "top_categories": top_categories(data.top_categories, out_dir),
        "hourly": hourly_curves(data.hourly, out_dir),
        "model": model_curves(data.model, out_dir),
        "scores": score_distribution(data.scores, out_dir),
        "quarantine": quarantine(data.quarantine, out_dir),
    }
