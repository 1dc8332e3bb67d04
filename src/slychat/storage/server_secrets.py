"""Secrets the servers make themselves, kept in the database so that every node shares
them. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.storage.tables import server_secrets


async def get_or_create(conn: AsyncConnection, name: str, candidate: bytes, now: int) -> bytes:
    """The secret called `name`: `candidate` if none was stored yet, else the stored one.
    Nodes asking at once all get the first one committed (the insert of the others waits
    for it on the key, then does nothing)."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(server_secrets).values(name=name, secret=candidate, created_at=now)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=[server_secrets.c.name]))
    query = select(server_secrets.c.secret).where(server_secrets.c.name == name)
    return bytes((await conn.execute(query)).scalar_one())
