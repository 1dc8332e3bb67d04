"""The demo page's state and typing throttle, which it takes from the client package
(clients/js: ChatStore, TypingNotifier), under node's own test runner:
tests/js/demo/*.test.mjs. Needs Node.js and npm (the package is built from its lockfile):
skipped without them, except in CI, where that fails."""

from __future__ import annotations

import subprocess

import pytest

from tests.client_package import node_with_package
from tests.support import ROOT

pytestmark = pytest.mark.node

TESTS = sorted((ROOT / "tests" / "js" / "demo").glob("*.test.mjs"))


def test_the_demo_modules_pass_their_node_tests() -> None:
    node = node_with_package()
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
