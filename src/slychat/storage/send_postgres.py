"""The send path on PostgreSQL: asyncpg itself, each step one statement over arrays.

Each statement is a round trip, so every step of a batch is one statement over arrays
(`unnest`): five round trips with the commit, however large the batch, and one WAL flush.
asyncpg prepares each statement once per connection and keeps it. Row locks are taken in
one order by every process (chats by id, feed heads customers first), which keeps
concurrent batches from deadlocking; they are held until commit, so each chat's `seq` and
each user's feed positions are handed out in commit order.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import Chat, ChatDetails, ChatKey, Message
from slychat.domain.webhook_events import chat_created
from slychat.storage.database import Database
from slychat.storage.feeds import lock_order
from slychat.storage.rows import (
    CHAT_COLUMNS,
    MESSAGE_COLUMNS,
    chat_from_row,
    chat_row,
    media_row,
    message_from_row,
)
from slychat.storage.send_batch import (
    ChatChange,
    ChatMissing,
    MediaRow,
    Outgoing,
    Stored,
    UniqueViolation,
    new_chat,
    open_chat_alone,
    store_batch,
)

_CHAT_BY_KEY = (
    f"SELECT {CHAT_COLUMNS} FROM chats "
    "WHERE product_id = $1 AND vendor_id = $2 AND customer_id = $3"
)
# A concurrent first message's INSERT waits for the other's commit, then does nothing.
_INSERT_CHAT = (
    f"INSERT INTO chats ({CHAT_COLUMNS}) VALUES "
    f"({', '.join(f'${n}' for n in range(1, 17))}) "
    f"ON CONFLICT (product_id, vendor_id, customer_id) DO NOTHING RETURNING {CHAT_COLUMNS}"
)
_STORED_BEFORE = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages m "
    "JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(chat_id, sender_type, client_id) "
    "ON m.chat_id = k.chat_id AND m.sender_type = k.sender_type "
    "AND m.client_message_id = k.client_id"
)
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
_INSERT_CHAT_CHANGES = (
    "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, at) "
    "SELECT t, u, p, 'chat', c, $5::bigint "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS v(t, u, p, c)"
)
_INSERT_MESSAGES = (
    "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, client_message_id, "
    "created_at, recipient_online, read, delivered_at, customer_id, vendor_id, customer_pos, "
    "vendor_pos, media_count, reply_to_id, original_text) SELECT id, chat_id, seq, sender_id, "
    "sender_type, text, client_id, $8::bigint, online, FALSE, "
    "CASE WHEN delivered THEN $8::bigint END, customer_id, vendor_id, customer_pos, "
    "vendor_pos, media_count, reply_to, original FROM "
    "unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[], $9::boolean[], $10::boolean[], $11::bigint[], $12::bigint[], $13::bigint[], "
    "$14::bigint[], $15::integer[], $16::text[], $17::text[]) AS v(id, chat_id, seq, "
    "sender_id, sender_type, text, client_id, online, delivered, customer_id, vendor_id, "
    "customer_pos, vendor_pos, media_count, reply_to, original)"
)
# Media rows are rare (an upload is a message); one prepared statement, pipelined.
_INSERT_OUTBOX = (
    "INSERT INTO webhook_outbox (id, event, payload, created_at, next_attempt_at) "
    "VALUES ($1, $2, $3, $4, $4)"
)
_INSERT_MEDIA = (
    "INSERT INTO message_media (id, message_id, position, file_key, thumbnail_key, mime_type, "
    "size, width, height, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)


class PostgresSendStore:
    def __init__(self, db: Database, webhooks: bool = False) -> None:
        self.db = db
        self.webhooks = webhooks  # write a `chat.created` outbox row with each new chat

    def _sql(self, conn: asyncpg.Connection) -> _Statements:
        return _Statements(conn, self.webhooks)

    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        async def attempt() -> list[Stored]:
            async with self.db.driver_connection() as conn:
                try:
                    async with conn.transaction():
                        return await store_batch(self._sql(conn), batch, now_ms())
                except asyncpg.UniqueViolationError as exc:
                    raise UniqueViolation(str(exc)) from exc

        return await self.db.retrying(attempt)

    async def open_chat(self, key: ChatKey, details: ChatDetails) -> tuple[Chat, bool]:
        async def attempt() -> tuple[Chat, bool]:
            async with self.db.driver_connection() as conn, conn.transaction():
                return await open_chat_alone(self._sql(conn), key, details, now_ms())

        return await self.db.retrying(attempt)


class _Statements:
    def __init__(self, conn: asyncpg.Connection, webhooks: bool) -> None:
        self.conn = conn
        self.webhooks = webhooks

    async def open_chat(
        self, key: ChatKey, details: ChatDetails | None, now: int
    ) -> tuple[Chat, bool]:
        if details is not None:
            row = await self.conn.fetchrow(_INSERT_CHAT, *chat_row(new_chat(key, details, now)))
            if row is not None:
                chat = chat_from_row(row)
                if self.webhooks:  # every chat is created here, so every chat is reported
                    entry = chat_created(chat, now)
                    await self.conn.execute(
                        _INSERT_OUTBOX, entry.id, entry.event, entry.payload, now
                    )
                return chat, True
        row = await self.conn.fetchrow(_CHAT_BY_KEY, key.product_id, key.vendor_id, key.customer_id)
        if row is None:
            raise ChatMissing(str(key))
        return chat_from_row(row), False

    async def stored_before(self, keys: Sequence[tuple[str, str, str]]) -> list[Message]:
        columns = list(zip(*keys, strict=True))
        rows = await self.conn.fetch(_STORED_BEFORE, *columns)
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

    async def insert_chat_changes(self, changes: Sequence[ChatChange]) -> None:
        await self.conn.execute(
            _INSERT_CHAT_CHANGES,
            [u.role.value for u, _, _, _ in changes],
            [u.id for u, _, _, _ in changes],
            [pos for _, pos, _, _ in changes],
            [chat_id for _, _, chat_id, _ in changes],
            changes[0][3],
        )

    async def insert_messages(self, items: Sequence[Outgoing], messages: Sequence[Message]) -> None:
        await self.conn.execute(
            _INSERT_MESSAGES,
            [m.id for m in messages],
            [m.chat_id for m in messages],
            [m.seq for m in messages],
            [m.sender.id for m in messages],
            [m.sender.role.value for m in messages],
            [m.text for m in messages],
            [m.client_message_id for m in messages],
            messages[0].created_at,
            [m.recipient_online for m in messages],
            [item.delivered for item in items],
            [item.key.customer_id for item in items],
            [item.key.vendor_id for item in items],
            [m.customer_pos for m in messages],
            [m.vendor_pos for m in messages],
            [m.media_count for m in messages],
            [m.reply_to_id for m in messages],
            [item.original_text for item in items],
        )

    async def insert_media(self, rows: Sequence[MediaRow]) -> None:
        await self.conn.executemany(_INSERT_MEDIA, [media_row(*row) for row in rows])
