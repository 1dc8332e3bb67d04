"""Alembic is the only way the schema is made: it must give exactly the tables' schema."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

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
