"""Security of the cluster and of dbt's sessions: the Spark Connect token (owner-only file,
refused without it), Thrift credentials for the health checks and BeeLine, no secret in any
output, log or state file, and Spark's web UI on loopback without scripts/in_env.sh."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from dbt.adapters.spark_oss.connections import connect_url_with_token

from spark_analytics.cluster.config import ClusterError, Settings
from spark_analytics.cluster.processes import free_port
from spark_analytics.cluster.security import (
    CLIENT_TOKEN_ENV,
    SERVER_TOKEN_ENV,
    THRIFT_PASSWORD_ENV,
    beeline_password_file,
    connect_url,
    new_token,
    read_token,
    server_env,
    thrift_auth,
    token_file,
)
from tests.python.dbt_project import CONNECT_MODE_VARIABLES

REPO_ROOT = Path(__file__).resolve().parents[2]
PLANTED_TOKEN = "planted-token-Zq7xK2"
PLANTED_PASSWORD = "planted-password-Vb9mW4"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without in_env.sh's Spark variables (PATH keeps the venv and java)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_LOCAL_IP", "SPARK_CONF_DIR")}
    for variable in CONNECT_MODE_VARIABLES:
        env.pop(variable, None)
    return {**env, **extra}


def assert_not_in(secret: str, *texts: str, files: list[Path] = ()) -> None:
    for text in texts:
        assert secret not in text
    for path in files:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"{secret!r} leaked into {path}"


# ---------------------------------------------------------------- token, auth (no cluster)


def test_token_is_fresh_per_cluster_and_owner_only(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    first = new_token(settings)
    assert stat.S_IMODE(token_file(settings).stat().st_mode) == 0o600
    assert read_token(settings) == first and len(first) >= 40
    assert new_token(settings) != first  # every `up` makes a new one
    token_file(settings).chmod(0o644)
    with pytest.raises(ClusterError, match="readable by others") as error:
        read_token(settings)
    assert first not in str(error.value)
    # handed to the server through its environment, not the command line
    assert server_env("x") == {SERVER_TOKEN_ENV: "x"}


def test_connect_urls_carry_the_token_over_a_local_channel(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, connect_port=15999)
    # pyspark insists on TLS with a token unless the host is literally `localhost`
    assert connect_url(settings, "t") == "sc://localhost:15999/;token=t"
    assert connect_url(settings, None) == "sc://127.0.0.1:15999"
    assert connect_url_with_token("sc://127.0.0.1:15002", "t") == "sc://localhost:15002/;token=t"
    assert connect_url_with_token("sc://h:1/;use_ssl=true", "t") == "sc://h:1/;use_ssl=true;token=t"
    assert connect_url_with_token("sc://127.0.0.1:15002", "") == "sc://127.0.0.1:15002"


def test_pyspark_client_uses_tls_with_a_token_except_for_localhost() -> None:
    from pyspark.sql.connect.client.core import DefaultChannelBuilder

    assert DefaultChannelBuilder("sc://127.0.0.1:1/;token=t").secure  # -> TLS: would fail
    local = DefaultChannelBuilder("sc://localhost:1/;token=t")
    assert local.secure and not local.use_ssl and local.host == "localhost"  # local creds


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"auth": "NONE"}),
        ({"SPARK_THRIFT_AUTH": "nosasl", "SPARK_THRIFT_USER": "u"}, {"auth": "NOSASL"}),
        (
            {"SPARK_THRIFT_AUTH": "LDAP", "SPARK_THRIFT_USER": "u", THRIFT_PASSWORD_ENV: "pw"},
            {"auth": "LDAP", "username": "u", "password": "pw"},
        ),
    ],
)
def test_thrift_health_check_arguments(env: dict, expected: dict) -> None:
    args = thrift_auth(env)
    assert {k: args[k] for k in expected} == expected
    assert ("password" in args) == (expected["auth"] == "LDAP")


def test_ldap_without_a_password_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match=THRIFT_PASSWORD_ENV):
        thrift_auth({"SPARK_THRIFT_AUTH": "LDAP"})
    with pytest.raises(ClusterError, match="KERBEROS"):
        thrift_auth({"SPARK_THRIFT_AUTH": "KERBEROS"})


def test_beeline_gets_the_ldap_password_from_an_owner_only_file() -> None:
    env = {"SPARK_THRIFT_AUTH": "LDAP", "SPARK_THRIFT_USER": "u", THRIFT_PASSWORD_ENV: "pw"}
    with beeline_password_file(env) as args:
        assert args[0] == "-w"
        path = Path(args[1])
        assert path.read_text() == "pw"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "pw" not in args
    assert not path.exists()
    with beeline_password_file({}) as args:
        assert args == []


# ---------------------------------------------------------------- no secret in dbt's output


def test_dbt_debug_never_shows_the_token_or_the_thrift_password(tmp_path: Path) -> None:
    """The documented LDAP set-up (password from DBT_ENV_SECRET_...), a token in the env, a
    Thrift port nobody listens on: dbt debug fails to connect, and leaks nothing."""
    profiles = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())
    cluster = profiles["spark_analytics"]["outputs"]["cluster"]
    cluster["password"] = "{{ env_var('DBT_ENV_SECRET_SPARK_THRIFT_PASSWORD') }}"
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(profiles))
    env = clean_env(
        DBT_PROFILES_DIR=str(tmp_path),
        DBT_LOG_PATH=str(tmp_path / "logs"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        SPARK_THRIFT_AUTH="LDAP",
        SPARK_THRIFT_PORT=str(free_port()),
        SPARK_THRIFT_CONNECT_RETRIES="0",
        SPARK_CONNECT_URL=f"sc://127.0.0.1:{free_port()}",
        **{CLIENT_TOKEN_ENV: PLANTED_TOKEN, THRIFT_PASSWORD_ENV: PLANTED_PASSWORD},
    )
    done = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "debug", "--target", "cluster"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert "connect_url" in output or "Connection" in output, output[-2000:]
    logs = list((tmp_path / "logs").rglob("*"))
    assert logs, "dbt wrote no log"
    for secret in (PLANTED_TOKEN, PLANTED_PASSWORD):
        assert_not_in(secret, output, files=logs)


# ---------------------------------------------------------------- the web UI without in_env.sh

UI_PROBE = textwrap.dedent(
    """
    import os, subprocess, sys, time, types
    from dbt.adapters.spark_oss.connections import spark_session_for
    from spark_analytics.settings import local_conf
    conf = {**local_conf(os.environ), "spark.ui.port": sys.argv[1], "spark.master": "local[1]"}
    spark = spark_session_for(types.SimpleNamespace(server_side_parameters=conf))
    spark.range(3).count()
    print("UI", spark.sparkContext.uiWebUrl, flush=True)
    sys.stdin.readline()  # keep the JVM up while the test looks at its sockets
    """
)


def listeners(pids: set[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [
        line.split()[3] for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids)
    ]


def descendants(pid: int) -> set[int]:
    found, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True,
                             text=True).stdout  # fmt: skip
        children = {int(p) for p in out.split()}
        todo += children - found
        found |= children
    return found


def test_spark_ui_of_dbts_session_binds_loopback_without_in_env(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(SPARK_UI_ENABLED="true", SPARK_STATE_DIR=str(tmp_path / "spark"))
    assert "SPARK_LOCAL_IP" not in env
    probe = subprocess.Popen(
        [sys.executable, "-c", UI_PROBE, str(port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = probe.stdout.readline()
        assert line.startswith("UI "), line
        time.sleep(1)
        bound = listeners(descendants(probe.pid))
        assert any(address.endswith(f":{port}") for address in bound), bound  # the UI is on
        public = [a for a in bound if not re.match(r"^(127\.|\[::1\]|\[::ffff:127\.)", a)]
        assert not public, f"listening beyond loopback: {public}"
    finally:
        probe.stdin.close()
        probe.wait(timeout=60)


# ---------------------------------------------------------------- a real cluster


@pytest.mark.cluster
def test_cluster_connect_requires_the_token_and_no_secret_leaks(tmp_path: Path) -> None:
    """`up` on free ports (1 worker): Connect refuses a session without the token and accepts
    the token from the 0600 file; the token and a planted Thrift password appear in no output,
    log or state file (the token file itself excepted), and `down` removes the token file."""
    from pyspark.sql import SparkSession

    from tests.python.test_cluster import _cli, _env_for, _free_settings

    settings = replace(_free_settings(tmp_path / "state"), workers=1)
    env = {**_env_for(settings, tmp_path), "CLUSTER_WORKERS": "1"}
    env[THRIFT_PASSWORD_ENV] = PLANTED_PASSWORD  # in the env of every process, used by none
    outputs: list[str] = []
    try:
        up = _cli(env, "up")
        outputs.append(up.stdout + up.stderr)
        assert up.returncode == 0, outputs[-1][-3000:]
        path = token_file(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = read_token(settings)

        def select_one(url: str) -> None:
            # Stopped while the server is up: a client left open retries its clean-up RPCs
            # against the stopped cluster when pytest exits (minutes of back-off).
            session = SparkSession.builder.remote(url).create()
            try:
                session.sql("select 1").collect()
            finally:
                session.stop()

        for url in (settings.connect_url, f"sc://localhost:{settings.connect_port}"):
            with pytest.raises(Exception) as refused:  # noqa: PT011 - gRPC error classes vary
                select_one(url)
            assert "UNAUTHENTICATED" in str(refused.value) or "token" in str(refused.value).lower()
        with pytest.raises(Exception):  # noqa: B017, PT011
            select_one(connect_url(settings, "not-the-token"))
        spark = SparkSession.builder.remote(connect_url(settings, token)).create()
        try:
            assert spark.sql("select 1 as one").collect()[0].one == 1
        finally:
            spark.stop()

        status = _cli(env, "status")
        outputs.append(status.stdout + status.stderr)
        assert status.returncode == 0, outputs[-1]
        assert str(path) in status.stdout and "connect select 1    ok" in status.stdout

        debug = subprocess.run(
            [sys.executable, "-m", "dbt.cli.main", "debug", "--target", "cluster"],
            cwd=REPO_ROOT,
            env={**env, CLIENT_TOKEN_ENV: token},
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs.append(debug.stdout + debug.stderr)
        assert debug.returncode == 0, outputs[-1][-3000:]

        leak_files = [p for p in settings.state_dir.rglob("*") if p.is_file() and p != path] + list(
            (tmp_path / "logs").rglob("*")
        )
        for secret in (token, PLANTED_PASSWORD):
            assert_not_in(secret, *outputs, files=leak_files)
        for component in json.loads(settings.state_file.read_text())["components"]:
            assert token not in " ".join(component["command"])
    finally:
        down = _cli(env, "down")
        for variable in CONNECT_MODE_VARIABLES:
            os.environ.pop(variable, None)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not token_file(settings).exists()
