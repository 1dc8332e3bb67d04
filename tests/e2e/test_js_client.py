"""The core flow driven by the official JavaScript client, `socket.io-client` 4.x from npm
(tests/js/core_flow.js), over websocket and over polling upgraded to websocket.

Needs Node.js, and the client installed in tests/js/node_modules from
tests/js/package-lock.json, which `make test` does (`npm ci`) like every other install:
skipped without them, except in CI (`CI=true`), where that fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, Server, next_id, token, unavailable

pytestmark = pytest.mark.node

JS_DIR = ROOT / "tests" / "js"
LOCKFILE = JS_DIR / "package-lock.json"
# npm writes this when it installs; its age says when node_modules last matched a lockfile.
INSTALLED = JS_DIR / "node_modules" / ".package-lock.json"
RUN_TIMEOUT = 60.0


def _tail(text: str | bytes | None, limit: int = 6000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text or ""
    return text if len(text) <= limit else "...\n" + text[-limit:]


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with socket.io-client installed in tests/js/node_modules."""
    node_bin = shutil.which("node")
    if node_bin is None:
        unavailable("Node.js not installed: node not found on PATH")
    if not INSTALLED.exists() or INSTALLED.stat().st_mtime < LOCKFILE.stat().st_mtime:
        unavailable(
            f"{JS_DIR / 'node_modules'} is missing or older than its lockfile: "
            "`make test` installs it (npm ci)"
        )
    return node_bin


def test_official_js_client_core_flow(node: str, server: Server) -> None:
    customer, vendor = next_id(), next_id()
    env = os.environ | {
        "SLYCHAT_URL": server.url,
        "CUSTOMER_ID": str(customer),
        "CUSTOMER_TOKEN": token("customer", customer),
        "VENDOR_ID": str(vendor),
        "VENDOR_TOKEN": token("vendor", vendor),
        "EXPIRED_TOKEN": token("customer", customer, ttl=-120),
    }
    script = JS_DIR / "core_flow.js"
    try:
        done = subprocess.run(
            [node, str(script)],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{script.name} did not finish in {RUN_TIMEOUT:.0f} s\n"
            f"--- stdout\n{_tail(exc.stdout)}\n--- stderr\n{_tail(exc.stderr)}\n"
            f"--- server log\n{_server_log(server)}"
        )
    report = (
        f"{script.name} exited with {done.returncode}\n"
        f"--- stdout\n{_tail(done.stdout)}\n--- stderr\n{_tail(done.stderr)}"
    )
    if done.returncode != 0:
        pytest.fail(f"{report}\n--- server log\n{_server_log(server)}")

    lines = done.stdout.strip().splitlines()
    assert lines, report
    summary = json.loads(lines[-1])
    assert summary["ok"] is True, report
    assert summary["socketIoClient"].startswith("4."), report
    assert [p["transport"] for p in summary["passes"]] == ["websocket", "polling"], report
    assert summary["refusals"] == 8, report  # 2 bad tokens x 2 namespaces x 2 transports


def _server_log(server: Server) -> str:
    path: Path | None = server.log_path
    return _tail(path.read_text(errors="replace")) if path and path.exists() else "(none)"


def _readme_snippet() -> str:
    """The Quickstart's Node.js example, as the README writes it."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    return quickstart.split("```js\n", 1)[1].split("```\n", 1)[0]


@pytest.mark.parametrize(
    ("role", "exit_code", "said"),
    [
        ("customer", 0, "stored"),
        ("vendor", 1, "not stored 403"),  # vendors do not start chats: the ack says so
        (None, 1, "refused"),  # a token the server refuses
    ],
)
def test_the_readme_node_snippet_runs_and_exits(
    node: str, server: Server, tmp_path: Path, role: str | None, exit_code: int, said: str
) -> None:
    """The snippet with its two placeholders filled in: it reports what happened, its ack's
    error included, and exits."""
    snippet = _readme_snippet()
    placeholders = ('"http://127.0.0.1:8000"', '"<customer token printed by make run>"')
    assert all(p in snippet for p in placeholders)
    bearer = token(role, next_id()) if role else "not-a-token"
    script = tmp_path / "quickstart.js"
    script.write_text(
        snippet.replace(placeholders[0], json.dumps(server.url)).replace(
            placeholders[1], json.dumps(bearer)
        )
    )
    try:
        done = subprocess.run(
            [node, str(script)],
            env=os.environ | {"NODE_PATH": str(JS_DIR / "node_modules")},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the snippet did not exit within {RUN_TIMEOUT:.0f} s: {_tail(exc.stdout)}")
    assert done.returncode == exit_code, (done.stdout, done.stderr)
    assert said in (done.stdout if exit_code == 0 else done.stderr), (done.stdout, done.stderr)
