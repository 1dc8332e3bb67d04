"""The send path on PostgreSQL: asyncpg itself, a batch in a handful of statements.

Each statement is a round trip, so a batch of messages into chats that exist is stored
set-wise: one lookup of retried client ids, one UPDATE that takes every chat's next `seq`
numbers, one upsert that advances every participant's feed head, one INSERT of every
message; five round trips with the commit, however large the batch, and one WAL flush. A
batch that creates a chat (rare: the first message of a conversation) goes message by
message through the shared steps of `send_batch.py`.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from slychat.identity import Role, User
from slychat.ids import now_ms
from slychat.models import Message
from slychat.storage.database import Database
from slychat.storage.feeds import lock_order
from slychat.storage.send_batch import (
    MESSAGE_COLUMNS,
    ChatMissing,
    Outgoing,
    Stored,
    UniqueViolation,
    message_from_row,
    store_batch,
)
from slychat.storage.send_setwise import store_setwise

_FIRST_BY_CLIENT_IDS = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages m "
    "JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(chat_id, sender_type, client_id) "
    "ON m.chat_id = k.chat_id AND m.sender_type = k.sender_type "
    "AND m.client_message_id = k.client_id"
)
# Chats in id order and heads in the global lock order (`feeds.lock_order`): concurrent
# batches take their row locks in one order, which keeps deadlocks away.
_BUMP_CHATS = (
    "UPDATE chats c SET last_seq = c.last_seq + v.n, "
    "last_message_at = $3::bigint, updated_at = $3::bigint "
    "FROM unnest($1::text[], $2::bigint[]) AS v(id, n) WHERE c.id = v.id "
    "RETURNING c.id, c.last_seq"
)
_BUMP_HEADS = (
    "INSERT INTO feed_heads (user_type, user_id, pos) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) "
    "ON CONFLICT (user_type, user_id) DO UPDATE SET pos = feed_heads.pos + excluded.pos "
    "RETURNING user_type, user_id, pos"
)
_INSERT_MESSAGES = (
    "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, client_message_id, "
    "created_at, recipient_online, read, delivered_at, customer_id, vendor_id, customer_pos, "
    "vendor_pos) SELECT id, chat_id, seq, sender_id, sender_type, text, client_id, $8::bigint, "
    "online, FALSE, CASE WHEN delivered THEN $8::bigint END, customer_id, vendor_id, customer_pos, "
    "vendor_pos FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], "
    "$6::text[], $7::text[], $9::boolean[], $10::boolean[], $11::bigint[], $12::bigint[], "
    "$13::bigint[], $14::bigint[]) AS v(id, chat_id, seq, sender_id, sender_type, text, "
    "client_id, online, delivered, customer_id, vendor_id, customer_pos, vendor_pos)"
)


class PostgresSendStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        async def attempt() -> list[Stored]:
            async with self.db.driver_connection() as conn:
                try:
                    async with conn.transaction():
                        if all(item.chat_id is not None for item in batch):
                            return await store_setwise(_Setwise(conn), batch, now_ms())
                        return await store_batch(_Driver(conn), batch, now_ms())
                except asyncpg.UniqueViolationError as exc:
                    raise UniqueViolation(str(exc)) from exc

        return await self.db.retrying(attempt)


class _Setwise:
    """The set-wise steps on asyncpg: each one statement over arrays (`unnest`)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def stored_before(self, asked: Sequence[Outgoing]) -> list[Message]:
        if not asked:
            return []
        rows = await self.conn.fetch(
            _FIRST_BY_CLIENT_IDS,
            [item.chat_id for item in asked],
            [item.sender.role.value for item in asked],
            [item.client_message_id for item in asked],
        )
        return [message_from_row(row) for row in rows]

    async def take_seqs(self, counts: dict[str, int], now: int) -> dict[str, int]:
        ids = sorted(counts)
        rows = await self.conn.fetch(_BUMP_CHATS, ids, [counts[cid] for cid in ids], now)
        if len(rows) != len(ids):
            raise ChatMissing(", ".join(set(ids) - {row[0] for row in rows}))
        return {row[0]: int(row[1]) - counts[row[0]] + 1 for row in rows}

    async def take_positions(self, counts: dict[User, int]) -> dict[User, int]:
        users = sorted(counts, key=lock_order)
        rows = await self.conn.fetch(
            _BUMP_HEADS,
            [u.role.value for u in users],
            [u.id for u in users],
            [counts[u] for u in users],
        )
        heads = {User(Role(t), int(uid)): int(pos) for t, uid, pos in rows}
        return {user: head - counts[user] + 1 for user, head in heads.items()}

    async def insert(self, items: Sequence[Outgoing], messages: Sequence[Message]) -> None:
        now = messages[0].created_at
        await self.conn.execute(
            _INSERT_MESSAGES,
            [m.id for m in messages],
            [m.chat_id for m in messages],
            [m.seq for m in messages],
            [m.sender.id for m in messages],
            [m.sender.role.value for m in messages],
            [m.text for m in messages],
            [m.client_message_id for m in messages],
            now,
            [m.recipient_online for m in messages],
            [item.delivered for item in items],
            [item.key.customer_id for item in items],
            [item.key.vendor_id for item in items],
            [m.customer_pos for m in messages],
            [m.vendor_pos for m in messages],
        )


@functools.cache
def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …`."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class _Driver:
    """The shared steps' statements on asyncpg, for batches that create a chat."""

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
