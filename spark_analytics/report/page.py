"""The report page: one HTML file rendered with Jinja2, opened offline.

Charts are referenced relatively (``charts/<name>.png``) and the CSS is inline: the page fetches
nothing at view time. Every printed number is in a cell tagged with where it comes from
(``data-section``, ``data-key``, ``data-column``), so a test can compare it with the marts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from spark_analytics.report.data import ReportData

CHART_DIR = "charts"

TEMPLATE = "report.html.j2"  # next to this module


def format_number(value: Any, kind: str = "int") -> str:
    """``int``: 1,234,567; ``money``: 1,234.57; ``rate``: 0.8421 (4 decimals)."""
    if value is None:
        return "n/a"
    if kind == "int":
        return f"{int(value):,}"
    if isinstance(value, Decimal):
        value = float(value)
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "rate":
        return f"{value:.4f}"
    raise ValueError(f"unknown number format {kind!r}")


def number_cell(value: Any, section: str, key: Any, column: str, kind: str = "int") -> Markup:
    return Markup(
        '<span class="metric" data-section="{}" data-key="{}" data-column="{}">{}</span>'
    ).format(escape(section), escape(str(key)), escape(column), format_number(value, kind))


def render(data: ReportData, charts: dict[str, str | None]) -> str:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
    )
    template = env.get_template(TEMPLATE)
    return template.render(
        data=data,
        schema=data.schema,
        charts=charts,
        chart_dir=CHART_DIR,
        num=number_cell,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write(data: ReportData, charts: dict[str, str | None], out_dir: Path) -> Path:
    page = out_dir / "index.html"
    page.write_text(render(data, charts), encoding="utf-8")
    return page
