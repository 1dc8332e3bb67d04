"""Alembic is the only way the schema is made: it must give exactly the tables' schema."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from slychat.domain.identity import Role, User
from slychat.services.search import SearchService, words_of
from slychat.storage import feeds
from slychat.storage.database import Database
from slychat.storage.migrate import alembic_config, current_revisions, head_revisions, upgrade
from slychat.storage.search import include_name
from slychat.storage.tables import metadata
from tests.support import ROOT


def _inspect(url: str) -> tuple[list[Any], dict[str, Any], str | None]:
    """(autogenerate diff against the tables, a schema snapshot, the stamped revision)."""

    def work(conn: Connection) -> tuple[list[Any], dict[str, Any], str | None]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
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
    assert {
        "ix_messages_unread_customer",
        "ix_messages_unread_vendor",
        "ix_messages_undelivered_customer",
        "ix_messages_undelivered_vendor",
    } <= indexes
    assert "ix_messages_undelivered" not in indexes
    assert "ix_messages_unread" not in indexes  # migration 0016


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


def test_the_revisions_read_say_whether_a_database_is_at_head(empty_database_url: str) -> None:
    """What /readyz compares: the scripts' heads and the database's revisions."""

    async def current() -> frozenset[str]:
        engine = create_async_engine(empty_database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(current_revisions)
        finally:
            await engine.dispose()

    heads = head_revisions(empty_database_url)
    assert heads == {
        ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    }
    assert asyncio.run(current()) == frozenset()  # never migrated
    upgrade(empty_database_url, "0002")
    assert asyncio.run(current()) == {"0002"}
    upgrade(empty_database_url)
    assert asyncio.run(current()) == heads


def _slychat_migrate(database_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "slychat", "migrate"],
        # PYTHONPATH kept: the slychat under test, not whichever one is installed.
        env={"PATH": "", "SLYCHAT_DATABASE_URL": database_url}
        | {k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_slychat_migrate_says_it_created_the_schema_or_found_it_at_head(
    empty_database_url: str,
) -> None:
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    said = _slychat_migrate(empty_database_url)
    assert said.startswith(f"created the schema at revision {head} ("), said
    said = _slychat_migrate(empty_database_url)
    assert said.startswith(f"the schema is already at the latest revision, {head} ("), said


def test_slychat_migrate_says_from_which_revision_it_upgraded(empty_database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    assert upgrade(empty_database_url, "0002") == (None, "0002")
    said = _slychat_migrate(empty_database_url)
    assert said.startswith(f"upgraded the schema from revision 0002 to {head} ("), said
    assert upgrade(empty_database_url) == (head, head)


def test_0009_indexes_the_messages_written_before_it(empty_database_url: str) -> None:
    """The search migration builds its index for the messages already stored."""
    upgrade(empty_database_url, "0007")

    async def seed_then_search() -> list[str | None]:
        engine = create_async_engine(empty_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO chats (id, product_id, vendor_id, customer_id, last_seq, "
                        "last_message_at, created_at, updated_at) "
                        "VALUES ('c1', 'p', 7, 8, 2, 1, 1, 1)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, "
                        "created_at, recipient_online, read, customer_id, vendor_id, "
                        "customer_pos, vendor_pos, deleted_at) VALUES "
                        "('m1', 'c1', 1, 8, 'CUSTOMER', 'Déjà vu', 5, TRUE, FALSE, 8, 7, 1, 1, "
                        "NULL),"
                        "('m2', 'c1', 2, 8, 'CUSTOMER', NULL, 6, TRUE, FALSE, 8, 7, 2, 2, 9)"
                    )
                )
            await asyncio.to_thread(upgrade, empty_database_url)
            database = Database(empty_database_url)
            try:
                page = await SearchService(database, 100_000).search(
                    User(Role.VENDOR, 7), words_of("deja")
                )
            finally:
                await database.close()
            return [m.text for m in page.messages]
        finally:
            await engine.dispose()

    assert asyncio.run(seed_then_search()) == ["Déjà vu"]


def test_0015_leaves_the_indexing_of_new_messages_to_the_send_batch(
    empty_database_url: str,
) -> None:
    """SQLite: 0015 drops FTS5's insert trigger (the send batch indexes its own rows; the
    search tests check the index against the table) and its downgrade puts it back. On
    PostgreSQL, whose generated column needs no trigger, both ways change nothing."""
    url = make_url(empty_database_url)

    def triggers() -> set[str]:
        if url.get_backend_name() != "sqlite":
            return set()
        with sqlite3.connect(url.database or "") as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            return {name for (name,) in rows}

    sqlite = url.get_backend_name() == "sqlite"
    upgrade(empty_database_url, "0014")
    at_0014 = triggers()
    assert ("messages_search_insert" in at_0014) is sqlite
    upgrade(empty_database_url)
    assert triggers() == at_0014 - {"messages_search_insert"}
    command.downgrade(alembic_config(empty_database_url), "0014")
    assert triggers() == at_0014
    upgrade(empty_database_url)


def test_0016_keys_the_unread_indexes_by_reader_and_chat_and_drops_the_per_chat_one(
    empty_database_url: str,
) -> None:
    def unread_indexes() -> dict[str, tuple[str, ...]]:
        _diff, snapshot, _revision = _inspect(empty_database_url)
        indexes = snapshot["messages"]["indexes"]
        return {name: columns for name, columns, _unique in indexes if "unread" in name}

    upgrade(empty_database_url, "0015")
    before = unread_indexes()
    assert before["ix_messages_unread"] == ("chat_id", "sender_type")
    assert before["ix_messages_unread_vendor"] == ("vendor_id",)
    upgrade(empty_database_url)
    after = unread_indexes()
    assert "ix_messages_unread" not in after
    assert after["ix_messages_unread_vendor"] == ("vendor_id", "chat_id")
    assert after["ix_messages_unread_customer"] == ("customer_id", "chat_id")
    assert after["ix_messages_unread_at"] == ("created_at",)
    command.downgrade(alembic_config(empty_database_url), "0015")
    assert unread_indexes() == before
