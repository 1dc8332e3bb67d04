"""The outbox, the lease and the unread watermark on both engines."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select, update

from slychat.container import send_store_for
from slychat.domain.identity import SYSTEM_USER, Role, User
from slychat.domain.models import ChatDetails, ChatKey
from slychat.domain.webhook_events import OutboxEntry
from slychat.realtime.memory import MemoryRegistry
from slychat.services.events import EventSink
from slychat.services.presence import CHAT, PRESENCE, PresenceService
from slychat.services.unread_notices import UnreadScanner
from slychat.storage import repository as repo
from slychat.storage import unread_notices, webhook_outbox
from slychat.storage.database import Database
from slychat.storage.send_batch import Outgoing
from slychat.storage.tables import messages
from slychat.storage.tables import webhook_outbox as outbox_table

DETAILS = ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann")


async def _rows(db: Database) -> list[tuple[str, str]]:
    async with db.read() as conn:
        query = select(outbox_table.c.event, outbox_table.c.payload)
        return [(str(e), str(p)) for e, p in await conn.execute(query)]


def _first_message(key: ChatKey, text: str) -> Outgoing:
    return Outgoing(key, None, key.customer, text, None, False, False, DETAILS)


async def test_a_new_chat_writes_chat_created_only_with_webhooks(db: Database) -> None:
    await send_store_for(db).store([_first_message(ChatKey("p1", 1, 2), "hi")])
    assert await _rows(db) == []

    store = send_store_for(db, webhooks=True)
    key = ChatKey("p2", 1, 2)
    [stored] = await store.store([_first_message(key, "hi")])
    await store.store([_first_message(key, "again")])  # the chat exists: nothing new
    [(event, payload)] = await _rows(db)
    assert event == "chat.created"
    assert stored.created is not None
    assert f'"id":"{stored.created.id}"' in payload

    chat, created = await store.open_chat(ChatKey("p3", 1, 2), DETAILS)  # without a message
    assert created
    assert len([p for _, p in await _rows(db) if chat.id in p]) == 1


async def test_the_lease_has_one_holder_until_it_expires(db: Database) -> None:
    async def take(holder: str, now: int) -> bool:
        return await db.write(
            lambda conn: webhook_outbox.take_lease(conn, "job", holder, now, now + 1000)
        )

    assert await take("a", 0)
    assert not await take("b", 500)
    assert await take("a", 900)  # renewed until 1900
    assert not await take("b", 1800)
    assert await take("b", 2000)  # a's lease ran out
    assert not await take("a", 2100)
    await db.write(lambda conn: webhook_outbox.release_lease(conn, "job", "a"))  # not a's
    assert not await take("a", 2200)
    await db.write(lambda conn: webhook_outbox.release_lease(conn, "job", "b"))
    assert await take("a", 2300)


async def test_due_rows_come_oldest_first_and_leave_the_backlog(db: Database) -> None:
    entries = [OutboxEntry(f"{n:024x}", "chat.created", "{}", 1000 + n) for n in range(3)]
    for entry in reversed(entries):
        await db.write(lambda conn, e=entry: webhook_outbox.insert(conn, e))  # type: ignore[misc]

    async def due(now: int) -> list[str]:
        async with db.read() as conn:
            return [row.id for row in await webhook_outbox.due(conn, now, 10)]

    async def backlog() -> int:
        async with db.read() as conn:
            return await webhook_outbox.backlog(conn)

    assert await due(1001) == [entries[0].id, entries[1].id]
    assert await backlog() == 3
    first, second, third = (e.id for e in entries)
    await db.write(lambda conn: webhook_outbox.delivered(conn, first, 5000))
    await db.write(lambda conn: webhook_outbox.attempt_failed(conn, second, "HTTP 500", 5000, 9000))
    await db.write(lambda conn: webhook_outbox.attempt_failed(conn, third, "HTTP 500", 5000, None))
    assert await due(8999) == []
    assert await due(9000) == [second]
    assert await backlog() == 1
    async with db.read() as conn:
        [row] = await webhook_outbox.due(conn, 9000, 10)
    assert row.attempts == 1

    pruned = await db.write(lambda conn: webhook_outbox.prune(conn, 5001, 4000))
    assert pruned == 1  # the delivered one; the given-up one is kept longer
    pruned = await db.write(lambda conn: webhook_outbox.prune(conn, 5001, 5001))
    assert pruned == 1
    assert await backlog() == 1


async def test_the_watermark_moves_only_from_what_was_read(db: Database) -> None:
    user = User(Role.VENDOR, 7)

    async def advance(seen: int | None, to: int) -> bool:
        return await db.write(lambda conn: unread_notices.advance(conn, user, seen, to))

    assert await advance(None, 100)
    assert not await advance(None, 200)  # someone wrote a notice meanwhile
    assert not await advance(50, 200)
    assert await advance(100, 200)
    async with db.read() as conn:
        assert await unread_notices.notified_until(conn, user) == 200


async def test_the_unread_scan_writes_one_notice_per_recipient(db: Database) -> None:
    registry = MemoryRegistry()
    scanner = UnreadScanner(
        db, PresenceService(db, registry, EventSink()), delay=1.0, sweep_every=0.0
    )
    store = send_store_for(db)
    away, online, seen = 70, 71, 72
    sent = []
    for vendor in (away, online, seen):
        key = ChatKey(f"p-{vendor}", vendor, 8)
        [first] = await store.store([_first_message(key, "one")])
        chat_id = first.message.chat_id
        sent += await store.store(
            [
                Outgoing(key, chat_id, key.customer, "two", None, False, False),
                # Neither SYSTEM notices nor the vendor's own messages are unread to them.
                Outgoing(key, chat_id, SYSTEM_USER, "Order shipped", None, False, False),
                Outgoing(key, chat_id, key.vendor, "reply", None, False, False),
            ]
        )
    newest = max(s.message.created_at for s in sent)
    await registry.add(PRESENCE, User(Role.VENDOR, online), "sid-1")
    await registry.add(CHAT, User(Role.CUSTOMER, 8), "sid-2")  # a /chat socket is enough
    await db.write(lambda conn: repo.save_last_seen(conn, User(Role.VENDOR, seen), newest + 600))

    assert await scanner.scan(newest + 500) == 0  # not a second old yet
    assert await scanner.scan(newest + 1500) == 1  # `seen` was here 0.9 s ago
    [(_, payload)] = await _rows(db)
    data = json.loads(payload)["data"]
    assert data["recipient"] == {"id": away, "type": "VENDOR"}
    assert [(c["productId"], c["unreadCount"]) for c in data["chats"]] == [(f"p-{away}", 2)]
    assert await scanner.scan(newest + 1550) == 0  # reported once
    assert await scanner.scan(newest + 1700) == 1  # `seen` has been away for over a second
    assert len(await _rows(db)) == 2


async def test_a_notice_reports_the_burst_its_first_message_began(db: Database) -> None:
    scanner = UnreadScanner(
        db, PresenceService(db, MemoryRegistry(), EventSink()), delay=1.0, sweep_every=60
    )
    store = send_store_for(db)
    [first] = await store.store([_first_message(ChatKey("p-x", 80, 9), "one")])
    await asyncio.sleep(0.02)
    [second] = await store.store([_first_message(ChatKey("p-y", 80, 9), "two")])
    opened = first.message.created_at
    assert second.message.created_at > opened
    # The first message is of age, the second not yet: both are in one notice.
    assert await scanner.scan(opened + 1000) == 1
    assert await scanner.scan(second.message.created_at + 1000) == 0
    [(_, payload)] = await _rows(db)
    chats = json.loads(payload)["data"]["chats"]
    assert sorted(c["productId"] for c in chats) == ["p-x", "p-y"]


async def test_a_notice_includes_older_messages_outside_the_scan_window(db: Database) -> None:
    """A message that came of age while its recipient was connected is reported with the
    next notice, though the incremental scan that finds it looks at newer messages only."""
    registry = MemoryRegistry()
    scanner = UnreadScanner(
        db, PresenceService(db, registry, EventSink()), delay=1.0, sweep_every=3600
    )
    store = send_store_for(db)
    vendor = User(Role.VENDOR, 90)
    [old] = await store.store([_first_message(ChatKey("p-old", 90, 10), "old")])
    start = old.message.created_at
    await db.write(
        lambda conn: conn.execute(
            update(messages)
            .where(messages.c.id == old.message.id)
            .values(created_at=start - 120_000)  # two minutes before
        )
    )
    await registry.add(PRESENCE, vendor, "sid")
    assert await scanner.scan(start) == 0  # the full scan: connected
    await registry.remove(PRESENCE, vendor, "sid")
    await db.write(lambda conn: repo.save_last_seen(conn, vendor, start + 10))

    [new] = await store.store([_first_message(ChatKey("p-new", 90, 10), "new")])
    assert await scanner.scan(new.message.created_at + 1100) == 1  # incremental
    [(_, payload)] = await _rows(db)
    chats = json.loads(payload)["data"]["chats"]
    assert sorted(c["productId"] for c in chats) == ["p-new", "p-old"]
