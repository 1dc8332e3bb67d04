"""The send path on PostgreSQL: asyncpg itself, with its prepared statements.

asyncpg prepares each statement once per connection and keeps it; a batch is one
transaction, so the batch's messages share one WAL flush at commit.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from slychat.ids import now_ms
from slychat.storage.database import Database
from slychat.storage.send_batch import Outgoing, Stored, UniqueViolation, store_batch


class PostgresSendStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        async def attempt() -> list[Stored]:
            async with self.db.driver_connection() as conn:
                try:
                    async with conn.transaction():
                        return await store_batch(_Driver(conn), batch, now_ms())
                except asyncpg.UniqueViolationError as exc:
                    raise UniqueViolation(str(exc)) from exc

        return await self.db.retrying(attempt)


@functools.cache
def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …`."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class _Driver:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetchrow(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        row: Sequence[Any] | None = await self.conn.fetchrow(_numbered(sql), *params)
        return row

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return list(await self.conn.fetch(_numbered(sql), *params))

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        status: str = await self.conn.execute(_numbered(sql), *params)
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 1", "UPDATE 3"
