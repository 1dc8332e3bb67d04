"""The moderation console's pure pieces (what a refusal says, the repeat offenders, a pasted
key, a suspension's end) under node's own test runner: tests/js/moderation/*.test.mjs.
The modules are the page's own files, imported as they are served. Needs Node.js: skipped
without it, except in CI, where that fails."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import ROOT, unavailable

pytestmark = pytest.mark.node

TESTS = sorted((ROOT / "tests" / "js" / "moderation").glob("*.test.mjs"))


def test_the_console_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("node not found: install Node.js to run the console's module tests")
    assert TESTS, "no tests/js/moderation/*.test.mjs"
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", *map(str, TESTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert "# fail 0" in done.stdout
