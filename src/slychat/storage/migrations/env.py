"""Alembic environment: runs migrations over the async engine of the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from slychat.storage.search import include_name
from slychat.storage.tables import metadata

config = context.config
# Several nodes may start at once, each running `slychat migrate` (systemd's ExecStartPre, a
# container's entrypoint): on PostgreSQL they take turns on this advisory lock, held until
# the migration's transaction ends, and the later ones find the schema at head.
MIGRATION_LOCK = 0x736C7963  # "slyc"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        # The search index's virtual table, triggers and expression index are the
        # migration's own: tables.py cannot declare them.
        include_name=include_name,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        # The revision before and after, read under the lock: what this run did.
        migration = context.get_context()
        config.attributes["revisions"] = [migration.get_current_revision()]
        context.run_migrations()
        config.attributes["revisions"].append(migration.get_current_revision())


async def _run_async() -> None:
    engine = create_async_engine(
        config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async())
