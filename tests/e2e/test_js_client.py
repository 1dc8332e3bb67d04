"""The core flow driven by the official JavaScript client, `socket.io-client` 4.x from npm
(tests/js/core_flow.js), over websocket and over polling upgraded to websocket.

Needs Node.js and npm: skipped without them, except in CI (`CI=true`), where that fails.
The client is installed with `npm ci` from tests/js/package-lock.json when node_modules is
missing or older than the lockfile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support import IN_CI, ROOT, Server, next_id, token

pytestmark = pytest.mark.node

JS_DIR = ROOT / "tests" / "js"
LOCKFILE = JS_DIR / "package-lock.json"
# npm writes this when it installs; its age says when node_modules last matched a lockfile.
INSTALLED = JS_DIR / "node_modules" / ".package-lock.json"
NPM_CI_TIMEOUT = 300.0
RUN_TIMEOUT = 60.0


def _unavailable(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _tail(text: str | bytes | None, limit: int = 6000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text or ""
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _stale() -> bool:
    return not INSTALLED.exists() or INSTALLED.stat().st_mtime < LOCKFILE.stat().st_mtime


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with socket.io-client installed in tests/js/node_modules."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        missing = " and ".join(n for n, b in (("node", node_bin), ("npm", npm_bin)) if b is None)
        _unavailable(f"Node.js/npm not installed: {missing} not found on PATH")
    if _stale():
        try:
            done = subprocess.run(
                [npm_bin, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            _unavailable(
                f"npm ci in {JS_DIR} did not finish in {NPM_CI_TIMEOUT:.0f} s\n"
                f"{_tail(exc.stdout)}\n{_tail(exc.stderr)}"
            )
        else:
            if done.returncode != 0:
                _unavailable(
                    f"npm ci in {JS_DIR} failed (exit {done.returncode})\n"
                    f"{_tail(done.stdout)}\n{_tail(done.stderr)}"
                )
        if _stale():  # npm ci succeeded but left no record of the install
            INSTALLED.touch()
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
