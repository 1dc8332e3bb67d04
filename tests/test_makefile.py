"""What `make run` and `make test` install, and when: the Makefile run in a copy of the
repository's install files, with `python3 -m venv`, pip, npm and the commands they install
replaced by stand-ins that record their arguments (nothing is downloaded). And what the
suite's own pytest settings show."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")

# Each command with the directory it ran in, relative to the checkout ("." for its root).
_RECORD = 'd="${PWD#"$ROOT"}"; d="${d#/}"; echo "$(basename "$0") $* @ ${d:-.}" >> "$LOG"\n'
_PYTHON = f"""#!/bin/sh
{_RECORD}if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    for tool in python pip slychat pytest; do
        printf '#!/bin/sh\\n%s' '{_RECORD}' > "$3/bin/$tool"
        chmod +x "$3/bin/$tool"
    done
fi
"""
# `npm ci` empties node_modules, then installs what the pages' copies are taken from; the
# client package's `npm run build` writes its bundles.
_NPM = f"""#!/bin/sh
{_RECORD}if [ "$1" = run ]; then
    mkdir -p dist/browser
    for f in index.mjs browser/slychat-client.js browser/slychat-client.js.map; do
        echo - > "dist/$f"
    done
    exit 0
fi
rm -rf node_modules
mkdir -p node_modules/swagger-ui-dist
touch node_modules/.package-lock.json
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
    echo - > "node_modules/swagger-ui-dist/$f"
done
"""


class Checkout:
    """A copy of the files the Makefile reads, and `make` run there with the stand-ins."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in (
            "Makefile",
            "pyproject.toml",
            "web/package-lock.json",
            "tests/js/package-lock.json",
            "clients/js/package-lock.json",
            "clients/js/package.json",
            "clients/js/tsconfig.json",
            "docs/asyncapi.json",
        ):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, root / name)
        tools = root / "stand-ins"
        tools.mkdir()
        for name, script in (("python3", _PYTHON), ("npm", _NPM)):
            (tools / name).write_text(script)
            (tools / name).chmod(0o755)
        self.log = root / "commands.log"
        # Nothing of the caller's environment: no CI (which would apt-get), no MAKEFLAGS.
        self.env = {
            "PATH": f"{tools}:/usr/bin:/bin",
            "LOG": str(self.log),
            "HOME": str(root),
            "ROOT": str(root),
        }

    def make(self, target: str) -> list[str]:
        """The commands `make <target>` ran, as `<tool> <arguments> @ <directory>`."""
        self.log.write_text("")
        subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=self.root,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.log.read_text().splitlines()

    def touch_later(self, name: str) -> None:
        """`name` changed after every install so far (which are made a minute older)."""
        before = time.time() - 60
        for path in self.root.rglob("*"):
            os.utime(path, (before, before), follow_symlinks=False)
        os.utime(self.root / name)


def _run(commands: list[str], tool: str) -> list[str]:
    """The installs `tool` (pip or npm) ran, without the directory for pip."""
    if tool == "pip":
        return [c.rsplit(" @ ", 1)[0] for c in commands if c.startswith("pip install")]
    return [c.replace(NPM_CI, "npm ci") for c in commands if c.startswith("npm ")]


NPM_CI = "npm ci --ignore-scripts --no-audit --no-fund --loglevel=error"


def test_run_installs_the_runtime_dependencies_and_test_the_dev_extra(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    assert _run(checkout.make("run"), "pip") == [
        "pip install --quiet --upgrade pip",
        "pip install --quiet -e .",
    ]
    assert checkout.make("run")[-2:] == [
        "slychat migrate @ .",
        "slychat serve @ .",
    ]
    assert _run(checkout.make("test"), "pip") == ["pip install --quiet -e .[dev]"]
    assert _run(checkout.make("test"), "pip") == []  # installed once
    assert _run(checkout.make("run"), "pip") == []  # the dev install holds the runtime one
    checkout.touch_later("pyproject.toml")
    assert _run(checkout.make("run"), "pip") == ["pip install --quiet -e ."]
    assert _run(checkout.make("test"), "pip") == ["pip install --quiet -e .[dev]"]
    checkout.touch_later("pyproject.toml")
    assert _run(checkout.make("test"), "pip") == ["pip install --quiet -e .[dev]"]
    assert _run(checkout.make("run"), "pip") == []


def test_every_npm_install_is_the_makefiles_and_run_takes_no_test_tools(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    # Serving: Swagger UI, and the client package built for the demo page.
    assert _run(checkout.make("run"), "npm") == [
        "npm ci --omit=dev @ web",
        "npm ci @ clients/js",
        "npm run --silent build @ clients/js",
    ]
    for copied in ("static/demo/dist/slychat-client.js", "static/apidocs/dist/LICENSE"):
        assert (tmp_path / "src/slychat" / copied).is_file()
    assert _run(checkout.make("run"), "npm") == []
    # The test tools, and the JS client tests' own packages (tests/js), which no test
    # installs itself.
    assert _run(checkout.make("test"), "npm") == ["npm ci @ web", "npm ci @ tests/js"]
    assert _run(checkout.make("test"), "npm") == []
    assert _run(checkout.make("run"), "npm") == []
    checkout.touch_later("tests/js/package-lock.json")
    assert _run(checkout.make("test"), "npm") == ["npm ci @ tests/js"]
    checkout.touch_later("web/package-lock.json")
    assert _run(checkout.make("run"), "npm") == ["npm ci --omit=dev @ web"]
    assert _run(checkout.make("test"), "npm") == ["npm ci @ web"]
    # The client package is built again when its lockfile or the AsyncAPI document changes.
    checkout.touch_later("clients/js/package-lock.json")
    assert _run(checkout.make("run"), "npm") == [
        "npm ci @ clients/js",
        "npm run --silent build @ clients/js",
    ]
    checkout.touch_later("docs/asyncapi.json")
    assert _run(checkout.make("test"), "npm") == ["npm run --silent build @ clients/js"]


def test_pytest_says_why_each_test_was_skipped(tmp_path: Path) -> None:
    """The project's pytest settings print every skip's reason in the summary."""
    (tmp_path / "test_skipping.py").write_text(
        "import pytest\n\n\ndef test_needs_a_service():\n"
        "    pytest.skip('no such service here: the reason shown')\n"
    )
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_skipping.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "SKIPPED [1] test_skipping.py:5: no such service here: the reason shown" in shown
