"""Alembic is the only way the schema is made: it must give exactly the tables' schema."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from slychat.identity import Role, User
from slychat.storage import feeds
from slychat.storage.migrate import alembic_config, upgrade
from slychat.storage.tables import metadata


def _inspect(url: str) -> tuple[list[Any], dict[str, Any], str | None]:
    """(autogenerate diff against the tables, a schema snapshot, the stamped revision)."""

    def work(conn: Connection) -> tuple[list[Any], dict[str, Any], str | None]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
        insp = inspect(conn)
        snapshot = {
            table: {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(table)
                ),
            }
            for table in sorted(insp.get_table_names())
        }
        return diff, snapshot, context.get_current_revision()

    async def run() -> tuple[list[Any], dict[str, Any], str | None]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrating_an_empty_database_gives_the_declared_schema(empty_database_url: str) -> None:
    upgrade(empty_database_url)

    diff, snapshot, revision = _inspect(empty_database_url)

    assert diff == []
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    assert revision == head
    assert {"chats", "messages", "last_seen"} <= set(snapshot)
    indexes = {name for name, _cols, _unique in snapshot["messages"]["indexes"]}
    assert {"ix_messages_unread", "ix_messages_undelivered"} <= indexes


def test_migrate_twice_is_a_no_op(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    _diff, before, revision = _inspect(empty_database_url)

    upgrade(empty_database_url)

    _diff, after, revision_after = _inspect(empty_database_url)
    assert after == before
    assert revision_after == revision


def test_messages_written_before_0003_stay_in_their_feeds(empty_database_url: str) -> None:
    """0003 moves `message` changes from feed rows into the message rows themselves."""
    upgrade(empty_database_url, "0002")

    async def seed_then_read() -> tuple[list[Any], list[Any]]:
        engine = create_async_engine(empty_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO chats (id, product_id, vendor_id, customer_id, last_seq, "
                        "last_message_at, created_at, updated_at) "
                        "VALUES ('c1', 'p', 7, 8, 1, 1, 1, 1)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, "
                        "created_at, recipient_online, read, customer_pos, vendor_pos) "
                        "VALUES ('m1', 'c1', 1, 8, 'CUSTOMER', 'old', 5, TRUE, FALSE, 2, 3)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, message_id, at)"
                        " VALUES ('CUSTOMER', 8, 2, 'message', 'c1', 'm1', 5), "
                        "('VENDOR', 7, 3, 'message', 'c1', 'm1', 5), "
                        "('VENDOR', 7, 4, 'read', 'c1', NULL, 6)"
                    )
                )
            await asyncio.to_thread(upgrade, empty_database_url)
            async with engine.connect() as conn:
                vendor_feed, _ = await feeds.feed_page(conn, User(Role.VENDOR, 7), 0, 10)
                customer_feed, _ = await feeds.feed_page(conn, User(Role.CUSTOMER, 8), 0, 10)
            return vendor_feed, customer_feed
        finally:
            await engine.dispose()

    vendor_feed, customer_feed = asyncio.run(seed_then_read())

    assert [(e.pos, e.kind, e.message_id) for e in vendor_feed] == [
        (3, "message", "m1"),
        (4, "read", None),
    ]
    assert [(e.pos, e.kind, e.message.text if e.message else None) for e in customer_feed] == [
        (2, "message", "old")
    ]
