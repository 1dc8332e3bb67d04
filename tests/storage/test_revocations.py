"""Revoked tokens on both engines: what a node reads and when, and `slychat revoke`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from slychat.domain.ids import now_ms
from slychat.services.revocations import Revocations
from slychat.storage import revocations as store
from slychat.storage.database import Database
from slychat.storage.tables import revoked_tokens
from tests.support import ROOT, SECRET

HOUR_MS = 3600_000


async def test_a_node_reads_revocations_in_force_and_forgets_lapsed_ones(db: Database) -> None:
    writer, node = Revocations(db), Revocations(db)
    await writer.revoke("a", now_ms() + HOUR_MS)
    await writer.revoke("soon-over", now_ms() + 300)

    assert sorted(await node.refresh()) == ["a", "soon-over"]
    assert node.is_revoked("a")
    assert node.is_revoked("soon-over")
    assert not node.is_revoked("b")
    assert not node.is_revoked(None)

    await writer.revoke("b", now_ms() + HOUR_MS)
    assert await node.refresh() == ["b"]  # only what is new
    assert node.is_revoked("b")

    await asyncio.sleep(0.4)
    assert not node.is_revoked("soon-over")  # its window is over
    assert await node.refresh() == []
    assert not node.is_revoked("soon-over")
    assert node.is_revoked("a")


async def test_a_revocation_written_late_with_an_older_time_is_still_read(db: Database) -> None:
    """`revoked_at` comes from the clock of whoever ran `slychat revoke`: one written after
    another but stamped a little earlier (a lagging host, a late commit) is not missed."""
    node = Revocations(db)
    now = now_ms()
    await db.write(lambda c: store.revoke(c, "first", now, now + HOUR_MS))
    assert await node.refresh() == ["first"]
    await db.write(lambda c: store.revoke(c, "lagging", now - 60_000, now + HOUR_MS))
    assert await node.refresh() == ["lagging"]


async def test_revoking_again_replaces_the_window_and_lapsed_rows_are_pruned(db: Database) -> None:
    writer, node = Revocations(db), Revocations(db)
    await writer.revoke("t", now_ms() + 200)
    await writer.revoke("t", now_ms() + HOUR_MS)  # extended
    await node.refresh()
    await asyncio.sleep(0.3)
    assert node.is_revoked("t")

    await writer.revoke("short", now_ms() + 100)
    await asyncio.sleep(0.2)
    await writer.revoke("other", now_ms() + HOUR_MS)  # each revoke prunes what lapsed
    async with db.read() as conn:
        left = sorted(r[0] for r in await conn.execute(select(revoked_tokens.c.jti)))
    assert left == ["other", "t"]


def _revoke(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
    env |= {"SLYCHAT_DATABASE_URL": database_url, "SLYCHAT_JWT_SECRET": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "slychat", "revoke", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_revoke_command_stores_a_window(db: Database) -> None:
    url = db.url
    before = time.time()
    default = await asyncio.to_thread(_revoke, url, "jti-default")
    assert default.returncode == 0, default.stderr
    assert "revoked until" in default.stdout
    for jti, until in (("jti-7d", "7d"), ("jti-iso", "2999-01-01T00:00:00Z")):
        done = await asyncio.to_thread(_revoke, url, jti, "--until", until)
        assert done.returncode == 0, done.stderr

    async with db.read() as conn:
        rows = {jti: until for jti, _at, until in await store.in_force(conn, now_ms(), None)}
    # default: the longest lifetime a token may have (30 d) plus the clock leeway
    assert rows["jti-default"] / 1000 == pytest.approx(before + 30 * 86400 + 30, abs=30)
    assert rows["jti-7d"] / 1000 == pytest.approx(before + 7 * 86400, abs=30)
    assert rows["jti-iso"] == 32472144000_000

    for bad in (["--until", "yesterday"], ["--until", "2000-01-01T00:00:00Z"]):
        refused = await asyncio.to_thread(_revoke, url, "jti-bad", *bad)
        assert refused.returncode == 2, refused
    too_long = await asyncio.to_thread(_revoke, url, "x" * 256)
    assert too_long.returncode == 2
