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
from collections import Counter
from collections.abc import Sequence
from typing import Any

import asyncpg

from slychat.identity import Role, User
from slychat.ids import new_id, now_ms
from slychat.models import Message
from slychat.storage.database import Database
from slychat.storage.send_batch import (
    MESSAGE_COLUMNS,
    ChatMissing,
    Outgoing,
    Stored,
    UniqueViolation,
    message_from_row,
    store_batch,
)

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
                            return await _store_set(conn, batch, now_ms())
                        return await store_batch(_Driver(conn), batch, now_ms())
                except asyncpg.UniqueViolationError as exc:
                    raise UniqueViolation(str(exc)) from exc

        return await self.db.retrying(attempt)


async def _store_set(conn: Any, batch: Sequence[Outgoing], now: int) -> list[Stored]:
    """`batch`, whose chats all exist, in four statements."""
    results: list[Stored | None] = [None] * len(batch)
    first_in_batch: dict[tuple[str | None, str, str], int] = {}
    retry_of: dict[int, int] = {}  # a retry within the batch -> the message it repeats
    fresh: list[int] = []
    stored_before = await _first_by_client_ids(conn, batch)
    for i, item in enumerate(batch):
        if item.client_message_id is not None:
            key = (item.chat_id, item.sender.role.value, item.client_message_id)
            if key in stored_before:
                results[i] = Stored(stored_before[key], duplicate=True)
                continue
            if key in first_in_batch:
                retry_of[i] = first_in_batch[key]
                continue
            first_in_batch[key] = i
        fresh.append(i)
    items = [batch[i] for i in fresh]
    seqs = await _take_seqs(conn, items, now)
    positions = await _take_positions(conn, items)
    messages = [
        Message(
            id=new_id(),
            chat_id=item.chat_id or "",
            seq=seq,
            sender=item.sender,
            text=item.text,
            created_at=now,
            recipient_online=item.recipient_online,
            client_message_id=item.client_message_id,
            delivered_at=now if item.delivered else None,
            customer_pos=customer_pos,
            vendor_pos=vendor_pos,
        )
        for item, seq, (customer_pos, vendor_pos) in zip(items, seqs, positions, strict=True)
    ]
    if messages:
        await _insert(conn, items, messages, now)
    for i, message in zip(fresh, messages, strict=True):
        results[i] = Stored(message)
    for i, first in retry_of.items():
        results[i] = Stored(messages[fresh.index(first)], duplicate=True)
    return [r for r in results if r is not None]  # every item got exactly one result


async def _first_by_client_ids(
    conn: Any, batch: Sequence[Outgoing]
) -> dict[tuple[str | None, str, str], Message]:
    asked = [item for item in batch if item.client_message_id is not None]
    if not asked:
        return {}
    rows = await conn.fetch(
        _FIRST_BY_CLIENT_IDS,
        [item.chat_id for item in asked],
        [item.sender.role.value for item in asked],
        [item.client_message_id for item in asked],
    )
    found: dict[tuple[str | None, str, str], Message] = {}
    for row in rows:
        m = message_from_row(row)
        found[(m.chat_id, m.sender.role.value, m.client_message_id or "")] = m
    return found


async def _take_seqs(conn: Any, items: list[Outgoing], now: int) -> list[int]:
    """Each item's `seq`, consecutive per chat in batch order."""
    counts = Counter(item.chat_id for item in items)
    ids = sorted(cid for cid in counts if cid is not None)
    rows = await conn.fetch(_BUMP_CHATS, ids, [counts[cid] for cid in ids], now)
    if len(rows) != len(ids):
        raise ChatMissing(", ".join(set(ids) - {row[0] for row in rows}))
    next_seq = {row[0]: int(row[1]) - counts[row[0]] + 1 for row in rows}
    seqs = []
    for item in items:
        chat_id = item.chat_id or ""
        seqs.append(next_seq[chat_id])
        next_seq[chat_id] += 1
    return seqs


async def _take_positions(conn: Any, items: list[Outgoing]) -> list[tuple[int, int]]:
    """Each item's (customer, vendor) feed positions, consecutive per user in batch order."""
    counts: Counter[User] = Counter()
    for item in items:
        counts[User(Role.CUSTOMER, item.key.customer_id)] += 1
        counts[User(Role.VENDOR, item.key.vendor_id)] += 1
    users = sorted(counts, key=lambda u: (u.role is not Role.CUSTOMER, u.id))
    rows = await conn.fetch(
        _BUMP_HEADS,
        [u.role.value for u in users],
        [u.id for u in users],
        [counts[u] for u in users],
    )
    next_pos = {User(Role(t), int(uid)): int(pos) - counts[User(Role(t), int(uid))] + 1
                for t, uid, pos in rows}  # fmt: skip
    positions = []
    for item in items:
        customer = User(Role.CUSTOMER, item.key.customer_id)
        vendor = User(Role.VENDOR, item.key.vendor_id)
        positions.append((next_pos[customer], next_pos[vendor]))
        next_pos[customer] += 1
        next_pos[vendor] += 1
    return positions


async def _insert(conn: Any, items: list[Outgoing], messages: list[Message], now: int) -> None:
    await conn.execute(
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
