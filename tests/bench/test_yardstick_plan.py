"""The yardstick's plan with an earlier revision beside this tree (`--before`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.yardstick import revision_source
from bench.yardstick_plan import GROUPS, with_revision


def test_an_earlier_revision_runs_the_closed_loops_of_one_process_beside_this_tree() -> None:
    groups = with_revision(GROUPS, "abc123", "/tmp/src")
    assert [g[: len(o)] for g, o in zip(groups, GROUPS, strict=True)] == list(GROUPS)
    added = [v for g in groups for v in g if v.source]
    assert [(v.key, v.successor, v.reference) for v in added] == [
        ("slychat-sqlite-at-abc123", "slychat-sqlite", "reference-sqlite"),
        ("slychat-postgres-at-abc123", "slychat-postgres", "reference-postgres"),
    ]
    assert all(v.loads == ("closed",) and v.source == "/tmp/src" for v in added)


def test_a_revision_s_source_is_that_revision_s_package() -> None:
    root = Path(__file__).resolve().parents[2]
    committed = subprocess.run(
        ["git", "-C", str(root), "show", "HEAD:src/slychat/__init__.py"],
        check=True,
        capture_output=True,
    ).stdout
    with revision_source("HEAD") as src:
        assert (Path(src) / "slychat" / "__init__.py").read_bytes() == committed
        assert (Path(src) / "slychat" / "__main__.py").is_file()
