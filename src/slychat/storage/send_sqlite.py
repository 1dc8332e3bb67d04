"""The send path on SQLite: sqlite3 itself, on the event loop's thread.

Every SQLite call here runs inline (`sqlite_inline.py`): each statement takes microseconds,
and sqlite3 keeps them prepared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from slychat.ids import now_ms
from slychat.storage.database import Database
from slychat.storage.send_batch import Outgoing, Stored, UniqueViolation, store_batch


class SqliteSendStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        async def attempt() -> list[Stored]:
            async with self.db.write_lock(), self.db.driver_connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    stored = await store_batch(_Driver(conn), batch, now_ms())
                    conn.execute("COMMIT")
                except sqlite3.IntegrityError as exc:
                    _rollback(conn)
                    raise UniqueViolation(str(exc)) from exc
                except BaseException:
                    _rollback(conn)
                    raise
                return stored

        return await self.db.retrying(attempt)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # some errors end the transaction themselves
        conn.execute("ROLLBACK")


class _Driver:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetchrow(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        # Read to the end: a statement left mid-way keeps its read snapshot open, and
        # then SQLite can never start the WAL over (see `sqlite_checkpoint.py`).
        rows = self.conn.execute(sql, params).fetchall()
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(sql, params).fetchall()

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        return self.conn.execute(sql, params).rowcount
