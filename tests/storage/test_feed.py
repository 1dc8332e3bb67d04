"""The change feed: positions in commit order per user, pruning by age."""

from __future__ import annotations

import asyncio
import functools

from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.services.events import EventSink
from slychat.services.sync import SyncService
from slychat.storage import feeds
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade

CUSTOMER, VENDOR = User(Role.CUSTOMER, 1), User(Role.VENDOR, 1)


async def test_positions_are_dense_per_user_under_concurrency(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    db = Database(empty_database_url)
    try:

        async def append(i: int) -> None:
            await db.write(lambda c: feeds.append_feed(c, [VENDOR, CUSTOMER], "read", f"c{i}", i))

        await asyncio.gather(*(append(i) for i in range(40)))
        async with db.read() as conn:
            entries, more = await feeds.feed_page(conn, VENDOR, 0, 100)
            head = await feeds.feed_head(conn, CUSTOMER)
    finally:
        await db.close()
    assert [e.pos for e in entries] == list(range(1, 41))
    assert not more
    assert head == 40


async def test_prune_drops_only_changes_past_retention(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    db = Database(empty_database_url)
    now = now_ms()
    try:
        for at in (now - 10 * 86400_000, now - 2 * 86400_000, now):
            await db.write(
                functools.partial(
                    feeds.append_feed, users=[VENDOR], kind="read", chat_id="c", at=at
                )
            )
        sync = SyncService(db, 86400, page_size=10, list_budget=1 << 20, sink=EventSink())
        pruned = await sync.prune()
        async with db.read() as conn:
            left = [e.at for e in (await feeds.feed_page(conn, VENDOR, 0, 10))[0]]
    finally:
        await db.close()
    assert pruned == 2
    assert left == [now]
