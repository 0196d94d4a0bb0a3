"""The docs site: complete descriptions, served on loopback, rendered in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.python.dbt_project import IN_ENV, REPO_ROOT, DbtProject

PACKAGE = "spark_analytics"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        env=clean_project.env(),
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


def chromium(*args: str) -> str:
    browser = shutil.which("chromium")
    if browser is None:
        message = "chromium is not installed: scripts/ensure_chromium.sh installs it (root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
            "--virtual-time-budget=20000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return result.stdout


def test_docs_site_renders_a_model_page_in_a_browser(docs_server: str):
    dom = chromium("--dump-dom", f"{docs_server}/#!/model/model.{PACKAGE}.fct_purchases")
    assert "fct_purchases" in dom
    assert "One row per accepted purchase" in dom
    assert "purchase_segment" in dom


def test_docs_site_lineage_graph_renders(docs_server: str, tmp_path: Path):
    screenshot = tmp_path / "lineage.png"
    chromium(
        f"--screenshot={screenshot}",
        "--window-size=1400,900",
        f"{docs_server}/#!/model/model.{PACKAGE}.sales_by_segment?g_v=1",
    )
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_docs_server_listens_on_loopback_only(docs_server: str):
    port = docs_server.rsplit(":", 1)[1]
    listeners = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    local_addresses = [line.split()[3] for line in listeners.splitlines() if line.split()]
    bound = [address for address in local_addresses if address.endswith(f":{port}")]
    assert bound and all(address.startswith(("127.0.0.1:", "[::1]:")) for address in bound)
