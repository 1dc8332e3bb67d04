"""The demo page's plain modules (its state and its typing throttle) under node's own
test runner: tests/js/demo/*.test.mjs. Needs Node.js only, no npm package: skipped
without it, except in CI, where that fails."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import IN_CI, ROOT

pytestmark = pytest.mark.node

TESTS = sorted((ROOT / "tests" / "js" / "demo").glob("*.test.mjs"))


def test_the_demo_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        message = "Node.js not installed: node not found on PATH"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    assert TESTS, "no tests/js/demo/*.test.mjs"
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
