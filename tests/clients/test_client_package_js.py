"""The JavaScript client package's own checks (clients/js): its unit tests of the outbox,
the cursor handling and the merge logic on a fake transport (node's test runner), the type
test (`tsc --strict` accepts a program using the API and refuses misuses of event
payloads), that its payload types are what docs/asyncapi.json generates today, and that
`npm pack` makes a tarball an app can install."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.client_package import PACKAGE, node_with_package

pytestmark = pytest.mark.node


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node_with_package(), *args],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_unit_tests_pass_on_the_fake_transport() -> None:
    tests = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "test").glob("*.test.mjs"))
    assert tests, "no clients/js/test/*.test.mjs"
    done = _run("--test", "--test-timeout=60000", "--test-reporter=tap", *tests)
    assert done.returncode == 0, f"{done.stdout[-8000:]}\n{done.stderr[-3000:]}"
    assert "# fail 0" in done.stdout
    assert "# cancelled 0" in done.stdout


def test_a_program_using_the_api_compiles_and_misuses_do_not() -> None:
    done = _run("test/types/check.mjs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bad.ts fails on its" in done.stdout


def test_the_payload_types_are_what_the_asyncapi_document_generates() -> None:
    done = _run("scripts/generate-types.mjs", "--check")
    assert done.returncode == 0, (
        "clients/js/src/generated/protocol.ts differs from what docs/asyncapi.json generates: "
        f"run `npm run generate` in clients/js\n{done.stderr}"
    )


CONSUMER_ESM = """
import { SlyChat, SlyChatError, memoryStorage } from "slychat-client";
const storage = memoryStorage();
const client: SlyChat = new SlyChat({ url: "http://127.0.0.1:1", token: "t", storage });
client.on("message", (m) => console.log(m.seq));
console.log(typeof SlyChat, new SlyChatError("x", 400).statusCode, client.status);
"""
CONSUMER_CJS = """
import slychat = require("slychat-client");
const client = new slychat.SlyChat({ url: "http://127.0.0.1:1", token: () => "t" });
client.on("read", (r) => console.log(r.messageIds.length));
console.log(typeof slychat.SlyChat, client.status);
"""


def test_npm_pack_gives_a_tarball_that_installs_and_loads_both_ways(tmp_path: Path) -> None:
    """The tarball holds the built files and the README; installed into an app (from npm's
    cache: no network), it loads as an ES module and as CommonJS, with types for both."""
    node = node_with_package()
    npm = shutil.which("npm")
    assert npm is not None
    packed = subprocess.run(
        [npm, "pack", "--ignore-scripts", "--json", "--pack-destination", str(tmp_path)],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [info] = json.loads(packed.stdout)
    files = {f["path"] for f in info["files"]}
    for needed in (
        "package.json",
        "README.md",
        "dist/index.mjs",
        "dist/index.cjs",
        "dist/types/index.d.ts",
        "dist/cjs-types/index.d.cts",
        "dist/browser/slychat-client.js",
    ):
        assert needed in files, sorted(files)
    assert not any(f.startswith(("src/", "test/", "e2e/", "node_modules/")) for f in files)

    app = tmp_path / "app"
    app.mkdir()
    _app_installing(app, f"file:../{info['filename']}")
    subprocess.run(
        [npm, "ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    loads = {
        "esm": [
            node,
            "--input-type=module",
            "-e",
            "import { SlyChat } from 'slychat-client'; console.log(typeof SlyChat);",
        ],
        "cjs": [node, "-e", "console.log(typeof require('slychat-client').SlyChat);"],
    }
    for kind, command in loads.items():
        done = subprocess.run(
            command, cwd=app, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.stdout.strip() == "function", f"{kind}: {done.stdout}{done.stderr}"

    (app / "esm.mts").write_text(CONSUMER_ESM)
    (app / "cjs.cts").write_text(CONSUMER_CJS)
    tsc = PACKAGE / "node_modules" / "typescript" / "bin" / "tsc"
    checked = subprocess.run(
        [
            node,
            str(tsc),
            "--strict",
            "--noEmit",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            "--types",
            "",
            "esm.mts",
            "cjs.cts",
        ],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _app_installing(app: Path, tarball: str) -> None:
    """An app whose only dependency is the packed tarball, with a lockfile naming the
    package's runtime dependencies as the package's own lockfile resolved them: `npm ci
    --offline` then installs from the tarballs `make` already put in npm's cache, with no
    registry lookup (which `npm install --offline` needs, and no cache is sure to hold)."""
    own = json.loads((PACKAGE / "package-lock.json").read_text())["packages"]
    root = own[""]
    packages: dict[str, Any] = {
        "": {"name": "app", "dependencies": {"slychat-client": tarball}},
        "node_modules/slychat-client": {
            "version": root["version"],
            "resolved": tarball,
            "dependencies": root["dependencies"],
        },
    }
    for path, entry in own.items():
        if path and not entry.get("dev"):
            packages[path] = entry
    manifest = {"name": "app", "private": True, "dependencies": {"slychat-client": tarball}}
    (app / "package.json").write_text(json.dumps(manifest))
    lock = {"name": "app", "lockfileVersion": 3, "requires": True, "packages": packages}
    (app / "package-lock.json").write_text(json.dumps(lock))
