"""The report (`make report`): charts are real PNGs, every printed number equals its mart, and
the page renders offline in headless Chromium with every chart loaded.

Runs `python -m spark_analytics.report` on the project built once (`clean_project`), in its warm
dbt runner (tests/python/warm_dbt.py), whose session the report must leave running. The marts
are read back independently, as Parquet files of their current versions
(spark_analytics/warehouse.py) with the test's own SparkSession, and aggregated with DataFrame
code written here.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.python import warm_dbt
from tests.python.browser import chromium as run_chromium
from tests.python.browser import screenshot
from tests.python.dbt_project import MARTS, ML, QUARANTINE, DbtProject

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The charts of a project built without the stream (clean_project): all but the hourly curves.
EXPECTED_CHARTS = {
    "sales_by_segment.png",
    "customer_segments.png",
    "top_merchants.png",
    "top_categories.png",
    "model_curves.png",
    "score_distribution.png",
}
# Drawn when a quarantine holds rows: clean_project's generated data have no bad rows.
QUARANTINE_CHART = "quarantine.png"
TOP_N = 10


class ReportParser(HTMLParser):
    """Collects the page's images, links and tagged numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.urls: list[str] = []
        self.scripts = 0
        self.metrics: list[dict[str, str]] = []
        self._metric: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img":
            self.images.append(values["src"])
        if tag == "script":
            self.scripts += 1
        self.urls += [values[name] for name in ("src", "href") if name in values]
        if "data-section" in values:
            self._metric = {
                "section": values["data-section"],
                "key": values["data-key"],
                "column": values["data-column"],
                "text": "",
            }

    def handle_data(self, data: str) -> None:
        if self._metric is not None:
            self._metric["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._metric is not None:
            self.metrics.append(self._metric)
            self._metric = None


@pytest.fixture(scope="module")
def report(clean_project: DbtProject, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("report")
    # The runner's session running, as after a build: the report must leave it so (a runner
    # whose session a program stopped ends, tests/python/warm_dbt.py).
    clean_project.python("-c", "from spark_analytics.session import build_session as b; b('t')")
    before = warm_dbt.runner_pid(clean_project.state_dir)
    result = clean_project.python("-m", "spark_analytics.report", "--out", str(out))
    runner = (before, warm_dbt.runner_pid(clean_project.state_dir))
    page = out / "index.html"
    parser = ReportParser()
    parser.feed(page.read_text(encoding="utf-8"))
    return {"dir": out, "page": page, "parser": parser, "stdout": result.stdout, "runner": runner}


def expected_charts(report: dict) -> set[str]:
    """The charts the page must have: the quarantine chart only when a quarantine has rows."""
    rejected = [m for m in report["parser"].metrics if m["section"] == "quarantine_tables"]
    assert len(rejected) == 3, rejected
    if any(m["text"].strip() != "0" for m in rejected):
        return EXPECTED_CHARTS | {QUARANTINE_CHART}
    return set(EXPECTED_CHARTS)


def test_report_command_says_where_the_page_is(report: dict):
    assert f"Report: {report['page']}" in report["stdout"]


def test_report_leaves_a_session_it_did_not_start_running(report: dict):
    before, after = report["runner"]
    assert before is not None and after == before


def test_every_chart_is_a_non_empty_png(report: dict):
    parser: ReportParser = report["parser"]
    referenced = {Path(src).name for src in parser.images}
    assert all(src.startswith("charts/") for src in parser.images), parser.images
    assert referenced == expected_charts(report)
    written = {path.name for path in (report["dir"] / "charts").glob("*.png")}
    assert written == referenced
    for name in written:
        path = report["dir"] / "charts" / name
        assert path.stat().st_size > 2_000, name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.width > 300 and image.height > 200, (name, image.size)


def test_page_fetches_nothing_at_view_time(report: dict):
    parser: ReportParser = report["parser"]
    assert parser.scripts == 0
    assert not [url for url in parser.urls if re.match(r"^[a-z]+:|^//", url)], parser.urls


def test_page_says_the_stream_has_not_run(report: dict):
    text = report["page"].read_text(encoding="utf-8")
    assert "The event stream has not run" in text
    assert "fct_merchant_hourly_transactions" in text
    assert "hourly_merchants.png" not in text


def test_page_says_when_no_row_was_rejected(report: dict):
    text = report["page"].read_text(encoding="utf-8")
    if QUARANTINE_CHART not in expected_charts(report):
        assert "No rejected rows" in text


def test_page_says_where_the_model_curves_come_from(report: dict):
    text = html.unescape(report["page"].read_text(encoding="utf-8"))
    assert "applied to the labelled test snapshot" in text
    assert "ROC points are not stored" in text


def _expected(spark: SparkSession, project: DbtProject) -> dict[tuple[str, str, str], object]:
    """(section, key, column) -> value, from the marts read as files, aggregated here."""

    def table(schema: str, name: str):
        return project.read_table(spark, schema, name)

    expected: dict[tuple[str, str, str], object] = {}

    def add(section: str, rows, key, columns) -> None:
        for row in rows:
            for column in columns:
                expected[(section, str(key(row)), column)] = row[column]

    segments = table(MARTS, "rpt_sales_by_segment").collect()
    add(
        "segments",
        segments,
        lambda r: r["purchase_segment"],
        ["transaction_count", "customer_count", "avg_purchase", "total_sales"],
    )
    expected[("segments", "total", "transaction_count")] = sum(
        r["transaction_count"] for r in segments
    )
    expected[("segments", "total", "total_sales")] = sum(r["total_sales"] for r in segments)

    customers = (
        table(MARTS, "dim_customers")
        .groupBy(F.coalesce("customer_segment", F.lit("No purchases")).alias("segment"))
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.sum("purchase_count").alias("purchases"),
            F.sum("lifetime_spend").alias("lifetime_spend"),
        )
        .collect()
    )
    add(
        "customer_segments",
        customers,
        lambda r: r["segment"],
        ["customers", "purchases", "lifetime_spend"],
    )

    merchants = table(MARTS, "dim_merchants")
    top = merchants.orderBy(F.desc("total_sales"), "merchant_id").limit(TOP_N).collect()
    add("top_merchants", top, lambda r: r["merchant_id"], ["transaction_count", "total_sales"])
    categories = (
        merchants.groupBy(F.coalesce("category_name", F.lit("Unknown")).alias("category"))
        .agg(
            F.count(F.lit(1)).alias("merchants"),
            F.sum("transaction_count").alias("transaction_count"),
            F.sum("total_sales").alias("total_sales"),
        )
        .orderBy(F.desc("total_sales"), "category")
        .limit(TOP_N)
        .collect()
    )
    add(
        "top_categories",
        categories,
        lambda r: r["category"],
        ["merchants", "transaction_count", "total_sales"],
    )

    model = (
        table(ML, "ml_purchase_propensity_training")
        .orderBy(F.desc("trained_at"), F.desc("model_version"))
        .first()
    )
    add(
        "model",
        [model],
        lambda r: r["model_version"],
        [
            "auc_roc",
            "auc_pr",
            "accuracy",
            "log_loss",
            "rows_trained",
            "rows_tested",
            "train_positive_rate",
            "test_positive_rate",
        ],
    )

    scores = (
        table(ML, "ml_purchase_propensity_scores")
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.sum("prediction").alias("predicted_buyers"),
            F.avg("probability").alias("mean_probability"),
        )
        .collect()
    )
    add("scores", scores, lambda r: "all", ["customers", "predicted_buyers", "mean_probability"])

    rejected = None
    for name in ("quarantine_transactions", "quarantine_customers", "quarantine_merchants"):
        part = table(QUARANTINE, name).select("source_relation", "rejection_reason")
        expected[("quarantine_tables", f"{QUARANTINE}.{name}", "rejected_rows")] = part.count()
        rejected = part if rejected is None else rejected.unionByName(part)
    reasons = (
        rejected.groupBy("source_relation", "rejection_reason")
        .agg(F.count(F.lit(1)).alias("rejected_rows"))
        .collect()
    )
    add(
        "quarantine",
        reasons,
        lambda r: f"{r['source_relation']}|{r['rejection_reason']}",
        ["rejected_rows"],
    )
    return expected


def _parse(text: str) -> tuple[Decimal, int]:
    """'1,234.57' -> (Decimal('1234.57'), 2 decimals)."""
    number = text.strip().replace(",", "")
    decimals = len(number.split(".")[1]) if "." in number else 0
    return Decimal(number), decimals


def test_every_number_on_the_page_equals_its_mart(
    report: dict, spark: SparkSession, clean_project: DbtProject
):
    metrics = report["parser"].metrics
    expected = _expected(spark, clean_project)
    assert metrics, "no tagged numbers on the page"
    shown = {(m["section"], m["key"], m["column"]) for m in metrics}
    assert len(shown) == len(metrics), "a number is printed twice under the same tag"
    sections = {section for section, _, _ in shown}
    assert sections == {section for section, _, _ in expected}
    # Top-N tables show exactly the marts' top N; the other sections every row.
    assert shown == set(expected), (
        f"on the page only: {sorted(shown - set(expected))}; "
        f"in the marts only: {sorted(set(expected) - shown)}"
    )
    wrong = []
    for metric in metrics:
        tag = (metric["section"], metric["key"], metric["column"])
        value = expected[tag]
        if value is None:
            if metric["text"].strip() != "n/a":
                wrong.append((tag, metric["text"], value))
            continue
        printed, decimals = _parse(metric["text"])
        tolerance = Decimal(5) * Decimal(10) ** -(decimals + 1) + Decimal("1e-9")
        if abs(printed - Decimal(str(value))) > tolerance:
            wrong.append((tag, metric["text"], value))
    assert not wrong, f"numbers that differ from the marts: {wrong}"


def test_report_renders_every_chart_in_chromium(report: dict, tmp_path: Path):
    """Opens a copy of the page (plus a probe script) from disk: every <img> has loaded."""
    copy = tmp_path / "report"
    shutil.copytree(report["dir"], copy)
    probe = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images).map(function (img) {
    return {src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight};
  });
  var out = document.createElement('pre');
  out.id = 'image-probe';
  out.textContent = JSON.stringify(images);
  document.body.appendChild(out);
});
</script></body>"""
    page = copy / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", probe), encoding="utf-8")
    dom = run_chromium("--allow-file-access-from-files", "--dump-dom", page.as_uri())
    match = re.search(r'<pre id="image-probe">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    images = json.loads(html.unescape(match.group(1)))
    assert {Path(image["src"]).name for image in images} == expected_charts(report)
    assert all(image["width"] > 0 and image["height"] > 0 for image in images), images
    assert "Sales and purchases by segment" in dom
    shot = screenshot(report["page"].as_uri(), "report.png", size="1200,2400")
    assert shot.stat().st_size > 20_000


def test_hourly_section_draws_the_busiest_merchants_when_the_stream_has_run(
    spark: SparkSession, tmp_path: Path
):
    """The stream branch, on a small hand-made hourly mart (clean_project has no stream)."""
    from spark_analytics.report import charts, data, page

    spark.sql("create database if not exists rtest_marts")
    rows = [
        # merchant, window start, transactions, amount
        ("m1", "2026-01-01 09:00:00", 5, "50.00"),
        ("m1", "2026-01-02 09:00:00", 3, "30.00"),
        ("m1", "2026-01-01 17:00:00", 2, "20.00"),
        ("m2", "2026-01-01 12:00:00", 4, "40.00"),
        ("m3", "2026-01-01 01:00:00", 1, "10.00"),
    ]
    (
        spark.createDataFrame(rows, "merchant_id string, ws string, n bigint, amount string")
        .select(
            "merchant_id",
            F.to_timestamp("ws").alias("window_start"),
            (F.to_timestamp("ws") + F.expr("interval 1 hour")).alias("window_end"),
            F.col("n").alias("transaction_count"),
            F.col("amount").cast("decimal(18,2)").alias("total_amount"),
        )
        .write.mode("overwrite")
        .saveAsTable("rtest_marts.fct_merchant_hourly_transactions")
    )
    spark.createDataFrame(
        [("m1", "One"), ("m2", "Two"), ("m3", "Three")], "merchant_id string, merchant_name string"
    ).write.mode("overwrite").saveAsTable("rtest_marts.dim_merchants")

    section = data.hourly_curves(spark, "rtest", limit=2)
    assert section.note is None
    assert [(r["merchant_id"], r["transaction_count"]) for r in section.rows] == [
        ("m1", 10),
        ("m2", 4),
    ]
    assert section.rows[0]["merchant_name"] == "One"
    curve = {
        (p["merchant_id"], p["hour_of_day"]): p["transaction_count"] for p in section.extra["curve"]
    }
    assert curve == {("m1", 9): 8, ("m1", 17): 2, ("m2", 12): 4}
    name = charts.hourly_curves(section, tmp_path)
    assert name == "hourly_merchants.png"
    assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE

    missing = data.hourly_curves(spark, "no_such_schema")
    assert missing.rows == [] and "has not run" in missing.note and "missing" in missing.note
    spark.sql("drop database rtest_marts cascade")
    assert page.format_number(1234567.891, "money") == "1,234,567.89"
