"""A user's offline messages and total unread, read by the message's own participant
columns, give what the join over the user's chats gave, on both engines; an erasure in
keyset batches leaves nothing live; and on a never-analyzed SQLite database each lookup is
a range of its partial index."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import false, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.container import send_store_for
from slychat.domain.identity import SYSTEM_USER, Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import Chat, ChatDetails, ChatKey
from slychat.storage import admin_queries
from slychat.storage import repository as repo
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade
from slychat.storage.send_batch import Outgoing
from slychat.storage.tables import chats, messages

DETAILS = ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann")
VENDOR, OTHER_VENDOR = User(Role.VENDOR, 10), User(Role.VENDOR, 11)
CUSTOMERS = [User(Role.CUSTOMER, 20 + i) for i in range(3)]
# Two vendors share the first customer; each vendor has chats with several customers, one
# of them over two products.
KEYS = [
    ChatKey("p1", VENDOR.id, CUSTOMERS[0].id),
    ChatKey("p2", VENDOR.id, CUSTOMERS[0].id),
    ChatKey("p1", VENDOR.id, CUSTOMERS[1].id),
    ChatKey("p1", OTHER_VENDOR.id, CUSTOMERS[0].id),
    ChatKey("p3", OTHER_VENDOR.id, CUSTOMERS[2].id),
]
USERS = [VENDOR, OTHER_VENDOR, *CUSTOMERS]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database, never analyzed (as the server leaves it)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.close()


async def _send(db: Database, key: ChatKey, sender: Role, count: int, delivered: bool) -> None:
    users = {
        Role.VENDOR: User(Role.VENDOR, key.vendor_id),
        Role.CUSTOMER: User(Role.CUSTOMER, key.customer_id),
        Role.SYSTEM: SYSTEM_USER,
    }
    user = users[sender]
    await send_store_for(db).store(
        [
            Outgoing(key, None, user, f"m{i}", None, delivered, delivered, DETAILS)
            for i in range(count)
        ]
    )


async def _seed(db: Database) -> dict[ChatKey, Chat]:
    """Messages both ways in every chat: delivered or not, some read, some deleted; and a
    SYSTEM message, to nobody."""
    for n, key in enumerate(KEYS):
        await _send(db, key, Role.CUSTOMER, 3 + n, delivered=False)
        await _send(db, key, Role.VENDOR, 2 + n, delivered=False)
        await _send(db, key, Role.CUSTOMER, 2, delivered=True)
        await _send(db, key, Role.VENDOR, 1, delivered=True)
        await _send(db, key, Role.SYSTEM, 1, delivered=False)  # nobody's: never counted
    found: dict[ChatKey, Chat] = {}
    async with db.read() as conn:
        for key in KEYS:
            chat = await repo.chat_by_key(conn, key)
            assert chat is not None
            found[key] = chat
    now = now_ms()

    async def mark_some(conn: AsyncConnection) -> None:
        # The vendor read one chat's customer messages; a customer read one chat.
        await repo.mark_read(conn, found[KEYS[1]].id, found[KEYS[1]].vendor, now)
        await repo.mark_read(conn, found[KEYS[3]].id, found[KEYS[3]].customer, now)
        # A few deleted, delivered or not, read or not.
        rows = await conn.execute(select(messages.c.id).order_by(messages.c.id))
        for i, message_id in enumerate(rows.scalars()):
            if i % 4 == 1:
                await repo.tombstone(conn, message_id, now)

    await db.write(mark_some)
    return found


def _by_chats(user: User) -> Any:
    """The join over the user's chats the participant columns replace: the reference."""
    side = chats.c.vendor_id if user.role is Role.VENDOR else chats.c.customer_id
    return (
        select(messages)
        .join(chats, chats.c.id == messages.c.chat_id)
        .where(
            side == user.id,
            messages.c.sender_type == user.role.counterpart.value,
            messages.c.deleted_at.is_(None),
        )
    )


async def test_undelivered_and_total_unread_are_those_of_the_users_chats(db: Database) -> None:
    await _seed(db)
    async with db.read() as conn:
        for user in USERS:
            reference = _by_chats(user)
            undelivered = reference.where(messages.c.delivered_at.is_(None)).order_by(
                messages.c.chat_id, messages.c.seq
            )
            expected = [row.id for row in await conn.execute(undelivered)]
            assert expected, user  # every user has some, in several chats
            found, more = await repo.undelivered(conn, user, 100)
            assert ([m.id for m in found], more) == (expected, False), user
            # Paged: the first few, and that more remain.
            found, more = await repo.undelivered(conn, user, 3)
            assert ([m.id for m in found], more) == (expected[:3], len(expected) > 3), user

            unread = reference.where(messages.c.read == false()).subquery()
            count = (await conn.execute(select(func.count()).select_from(unread))).scalar_one()
            assert await repo.total_unread(conn, user) == count, user
        assert await repo.total_unread(conn, VENDOR) > 0
        assert await repo.total_unread(conn, User(Role.VENDOR, 99)) == 0
        assert await repo.undelivered(conn, User(Role.CUSTOMER, 99), 10) == ([], False)


async def test_an_erasure_in_batches_after_the_last_seq_leaves_nothing_live(db: Database) -> None:
    chat = (await _seed(db))[KEYS[0]]
    await _send(db, KEYS[0], Role.CUSTOMER, 7, delivered=True)

    async def live(conn: AsyncConnection, sender: Role) -> list[str]:
        rows = await conn.execute(
            select(messages.c.id)
            .where(
                messages.c.chat_id == chat.id,
                messages.c.sender_type == sender.value,
                messages.c.deleted_at.is_(None),
            )
            .order_by(messages.c.seq)
        )
        return list(rows.scalars())

    async with db.read() as conn:
        before, vendors = await live(conn, Role.CUSTOMER), await live(conn, Role.VENDOR)
    assert len(before) > 9

    erased: list[str] = []
    after_seq, batches = 0, 0

    async def batch(conn: AsyncConnection) -> tuple[list[str], int]:
        """As the erasure's batch: the next live ones after the last batch's seq."""
        found = await admin_queries.live_messages_of(conn, chat, Role.CUSTOMER, after_seq, 3)
        ids = [message_id for message_id, _ in found]
        if ids:
            await admin_queries.tombstone_many(conn, ids, now_ms())
        return ids, found[-1][1] if found else after_seq

    while True:
        ids, after_seq = await db.write(batch)
        erased += ids
        batches += 1
        if batches == 2:  # sent while the erasure runs: a later seq, still erased
            await _send(db, KEYS[0], Role.CUSTOMER, 2, delivered=True)
        if len(ids) < 3:
            break

    async with db.read() as conn:
        assert await live(conn, Role.CUSTOMER) == []
        assert await live(conn, Role.VENDOR) == vendors
    assert erased[: len(before)] == before
    assert len(erased) == len(before) + 2
    assert batches >= 4


async def _plan(conn: AsyncConnection, query: Any) -> str:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
    return "\n".join(str(row[-1]) for row in rows)


async def test_sqlite_reads_a_users_rows_by_their_partial_index_without_analyze(
    sqlite_db: Database,
) -> None:
    found = await _seed(sqlite_db)
    async with sqlite_db.read() as conn:
        stats = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
        assert (await conn.execute(text(stats))).scalar_one() == 0  # never analyzed
        for user in (VENDOR, CUSTOMERS[0]):
            side = user.role.value.lower()
            plan = await _plan(conn, repo.undelivered_query(user, 101))
            assert f"USING INDEX ix_messages_undelivered_{side} " in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # already in (chat_id, seq) order
            assert "chats" not in plan, plan
            plan = await _plan(conn, repo.total_unread_query(user))
            assert f"INDEX ix_messages_unread_{side} " in plan, plan
            assert "chats" not in plan, plan
            # Per chat: a range (reader, chat) of the same index (migration 0016).
            chat_ids = [c.id for c in found.values() if user in (c.customer, c.vendor)]
            plan = await _plan(conn, repo.unread_counts_query(chat_ids, user))
            assert f"INDEX ix_messages_unread_{side} ({side}_id=? AND chat_id=?)" in plan, plan
            plan = await _plan(conn, repo.mark_read_statement(chat_ids[0], user, 0))
            assert f"INDEX ix_messages_unread_{side} ({side}_id=? AND chat_id=?)" in plan, plan
        chat = await repo.chat_by_key(conn, KEYS[0])
        assert chat is not None
        plan = await _plan(conn, admin_queries.live_messages_query(chat.id, Role.CUSTOMER, 4, 200))
        assert "seq>?" in plan, plan  # a range after the last batch, not from the start


async def test_sqlite_runs_the_statements_that_grow_with_data_off_the_loop(
    sqlite_db: Database,
) -> None:
    """markAsRead's update runs on a worker thread (the loop keeps serving other sockets
    meanwhile); the rest of the unit of work stays inline."""
    found = await _seed(sqlite_db)
    loop_thread = threading.get_ident()
    ran: list[tuple[str, bool]] = []

    def traced(statement: str) -> None:
        ran.append((statement.split()[0].upper(), threading.get_ident() == loop_thread))

    async def work(conn: AsyncConnection) -> None:
        inline = (await conn.get_raw_connection()).driver_connection
        assert inline is not None
        driver = inline.sqlite
        driver.set_trace_callback(traced)
        try:
            chat = found[KEYS[0]]
            await repo.chat_by_key(conn, KEYS[0])
            assert await repo.mark_read(conn, chat.id, chat.vendor, now_ms())
            assert set(await repo.counterparts_of(conn, VENDOR)) == set(CUSTOMERS[:2])
        finally:
            driver.set_trace_callback(None)

    await sqlite_db.write(work)
    assert ran == [("SELECT", True), ("UPDATE", False), ("SELECT", True)], ran
