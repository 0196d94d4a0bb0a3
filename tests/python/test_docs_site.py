"""The docs site: complete descriptions, served on loopback, rendered in a real headless browser.

The browser tests open the served site: the overview page, a mart page with its columns and
tests, and the lineage graph, whose nodes (cytoscape keeps them off the DOM, on a canvas) a probe
script writes into the DOM. Screenshots of each page go to reports/screenshots/ (git-ignored).
"""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_analytics.cluster.processes import free_port
from tests.python.browser import chromium, screenshot
from tests.python.dbt_project import IN_ENV, REPO_ROOT, DbtProject

PACKAGE = "spark_analytics"


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="module")
def generated_docs(clean_project: DbtProject) -> Path:
    clean_project.dbt("docs", "generate")
    return clean_project.workdir / "target"


@pytest.fixture(scope="module")
def docs_server(clean_project: DbtProject, generated_docs: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [
            str(IN_ENV),
            "dbt",
            "docs",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=REPO_ROOT,
        env=clean_project.env(opens_metastore=False),  # it serves target/'s files
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def project_nodes(target: Path) -> list[dict]:
    manifest = json.loads((target / "manifest.json").read_text())
    return [
        node
        for node in manifest["nodes"].values()
        if node["package_name"] == PACKAGE and node["resource_type"] in ("model", "seed")
    ]


def test_every_model_states_its_grain_and_describes_every_column(generated_docs: Path):
    catalog = json.loads((generated_docs / "catalog.json").read_text())["nodes"]
    missing = []
    for node in project_nodes(generated_docs):
        if node["resource_type"] == "model" and "grain" not in node["description"].lower():
            missing.append(f"{node['name']}: description does not state the grain")
        documented = {name for name, col in node["columns"].items() if col["description"]}
        built = {c.lower() for c in catalog[node["unique_id"]]["columns"]}
        missing += [f"{node['name']}.{column}" for column in sorted(built - documented)]
    assert not missing, "undocumented: " + ", ".join(missing)


def test_the_catalog_shows_the_persisted_descriptions(generated_docs: Path):
    """Models with persist_docs (the marts) have their description and their columns' as the
    catalog's comments: what `describe` shows on the published view, the docs site too.
    Compared with whitespace folded: a YAML `>` description ends with a line break."""
    catalog = json.loads((generated_docs / "catalog.json").read_text())["nodes"]
    checked, wrong = 0, []
    for node in project_nodes(generated_docs):
        persist = node["config"].get("persist_docs") or {}
        if not persist.get("relation"):
            continue
        entry = catalog[node["unique_id"]]
        if " ".join((entry["metadata"].get("comment") or "").split()) != " ".join(
            node["description"].split()
        ):
            wrong.append(f"{node['name']}: {entry['metadata'].get('comment')!r}")
        comments = {name.lower(): col.get("comment") for name, col in entry["columns"].items()}
        for name, column in node["columns"].items():
            if persist.get("columns") and " ".join((comments.get(name.lower()) or "").split()) != (
                " ".join(column["description"].split())
            ):
                wrong.append(f"{node['name']}.{name}: {comments.get(name.lower())!r}")
        checked += 1
    assert checked >= 6, f"only {checked} models persist their docs"
    assert not wrong, "catalog comments differ from the descriptions: " + "; ".join(wrong)


# What the lineage graph must show: the marts (both versions of dim_merchants), the Python models
# and the exposures.
MARTS = (
    "fct_purchases",
    "dim_customers",
    "dim_merchants.v2",
    "dim_merchants.v1",
    "rpt_sales_by_segment",
    "rpt_merchant_risk_profiles",
    "fct_merchant_hourly_transactions",
    "fct_merchant_daily_transactions",
)
PYTHON_MODELS = ("ml_purchase_propensity_training", "ml_purchase_propensity_scores")
EXPOSURES = ("analytics_report", "purchase_propensity_scoring", "merchant_hourly_dashboard")

# Appended to a copy of the site's index.html (served from the same target/ folder, so the app
# loads manifest.json as usual): waits for the lineage graph (cytoscape in #cy) and writes the
# nodes it holds into the DOM, where --dump-dom finds them.
GRAPH_PROBE = """<script>
(function () {
  var tries = 0;
  var timer = setInterval(function () {
    tries += 1;
    var container = document.getElementById('cy');
    var cy = container && container._cyreg && container._cyreg.cy;
    if ((cy && cy.nodes().length > 0) || tries > 150) {
      clearInterval(timer);
      var nodes = cy ? cy.nodes().map(function (node) {
        return {id: node.id(), label: node.data('label'), visible: node.visible()};
      }) : [];
      var out = document.createElement('pre');
      out.id = 'graph-probe';
      out.textContent = JSON.stringify(nodes);
      document.body.appendChild(out);
    }
  }, 200);
})();
</script></body>"""


def test_overview_exposures_and_shared_doc_blocks_are_in_the_manifest(generated_docs: Path):
    manifest = json.loads((generated_docs / "manifest.json").read_text())
    overview = manifest["docs"][f"doc.{PACKAGE}.__overview__"]
    assert "Where each output goes" in overview["block_contents"]
    exposures = {
        exposure["name"]: exposure
        for exposure in manifest["exposures"].values()
        if exposure["package_name"] == PACKAGE
    }
    assert set(exposures) == set(EXPOSURES)
    for exposure in exposures.values():
        upstream = exposure["depends_on"]["nodes"]
        assert upstream and all(node in manifest["nodes"] for node in upstream), exposure["name"]
    report_inputs = exposures["analytics_report"]["depends_on"]["nodes"]
    assert f"model.{PACKAGE}.rpt_sales_by_segment" in report_inputs
    assert f"model.{PACKAGE}.ml_purchase_propensity_training" in report_inputs
    # Shared columns read their description from one doc block.
    blocks = {
        name: manifest["docs"][f"doc.{PACKAGE}.{name}"]["block_contents"].strip()
        for name in ("customer_id", "merchant_id", "rejection_reason", "purchase_segment")
    }
    uses = {name: 0 for name in blocks}
    for node in manifest["nodes"].values():
        if node["package_name"] != PACKAGE or node["resource_type"] != "model":
            continue
        for column, spec in node["columns"].items():
            if column in blocks and blocks[column] in spec["description"]:
                uses[column] += 1
    assert all(count >= 2 for count in uses.values()), uses


def test_docs_site_home_page_shows_the_overview(docs_server: str):
    dom = chromium("--dump-dom", f"{docs_server}/#!/overview")
    assert "Spark analytics: dbt on Apache Spark" in dom
    assert "Pointing it at your own files" in dom
    assert "Where each output goes" in dom
    assert "reports/index.html" in dom
    screenshot(f"{docs_server}/#!/overview", "docs_overview.png")


def test_docs_site_mart_page_shows_columns_and_tests(docs_server: str):
    url = f"{docs_server}/#!/model/model.{PACKAGE}.fct_purchases"
    dom = chromium("--dump-dom", url)
    assert "One row per accepted purchase" in dom
    for column in ("transaction_id", "customer_id", "merchant_id", "purchase_amount"):
        assert column in dom, column
    assert "purchase_segment" in dom
    # The column tests, as the site renders them (badges with a tooltip title).
    for test in ("Unique", "Not Null", "Accepted Values", "Foreign Key"):
        assert f'title="{test}"' in dom, test
    # A shared column description, from a doc block (models/docs/_shared_columns.md).
    assert "one macro (" in dom
    screenshot(url, "docs_fct_purchases.png", size="1400,1600")


def test_docs_lineage_graph_has_the_marts_python_models_and_exposures(
    docs_server: str, generated_docs: Path
):
    probe = generated_docs / "graph_probe.html"
    index = (generated_docs / "index.html").read_text(encoding="utf-8")
    probe.write_text(index.replace("</body>", GRAPH_PROBE), encoding="utf-8")
    try:
        # The lineage of fct_purchases (+fct_purchases+): every mart, ML model and exposure.
        dom = chromium(
            "--dump-dom",
            f"{docs_server}/graph_probe.html#!/model/model.{PACKAGE}.fct_purchases?g_v=1",
            budget_ms=40_000,
        )
    finally:
        probe.unlink()
    match = re.search(r'<pre id="graph-probe">(.*?)</pre>', dom, re.S)
    assert match, "the lineage graph probe did not run"
    nodes = {node["id"]: node for node in json.loads(html.unescape(match.group(1)))}
    expected = [f"model.{PACKAGE}.{name}" for name in (*MARTS, *PYTHON_MODELS)]
    expected += [f"exposure.{PACKAGE}.{name}" for name in EXPOSURES]
    missing = [unique_id for unique_id in expected if unique_id not in nodes]
    assert not missing, f"not in the lineage graph: {missing}; graph has {sorted(nodes)}"
    hidden = [unique_id for unique_id in expected if not nodes[unique_id]["visible"]]
    assert not hidden, f"in the graph but hidden: {hidden}"
    screenshot(
        f"{docs_server}/#!/model/model.{PACKAGE}.fct_purchases?g_v=1",
        "docs_lineage_fct_purchases.png",
    )


def test_docs_server_listens_on_loopback_only(docs_server: str):
    port = docs_server.rsplit(":", 1)[1]
    listeners = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    local_addresses = [line.split()[3] for line in listeners.splitlines() if line.split()]
    bound = [address for address in local_addresses if address.endswith(f":{port}")]
    assert bound and all(address.startswith(("127.0.0.1:", "[::1]:")) for address in bound)
