"""Every file of the server's own pages is in the package (pyproject.toml's package-data):
an installed slychat (the wheel, the Docker image) serves what a checkout does."""

from __future__ import annotations

import fnmatch
import tomllib

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "src" / "slychat"
PAGES = ("static/demo", "static/moderation", "static/apidocs")
# Copied from npm by `make` (their globs are checked as written, not the files).
BUILT = ("static/demo/dist/", "static/apidocs/dist/")


def _globs() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["setuptools"]["package-data"]["slychat"])


@pytest.mark.parametrize("folder", PAGES)
def test_each_page_file_is_packaged(folder: str) -> None:
    globs = _globs()
    files = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted((PACKAGE / folder).rglob("*"))
        if path.is_file()
    ]
    assert files, folder
    missing = [
        name
        for name in files
        if not name.startswith(BUILT)
        # setuptools' `*` does not cross a slash: neither does fnmatch's, once split.
        and not any(fnmatch.fnmatchcase(name, g) and name.count("/") == g.count("/") for g in globs)
    ]
    assert missing == [], f"add to pyproject.toml's package-data: {missing}"
