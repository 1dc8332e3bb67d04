"""The send path on SQLite: sqlite3 itself, on the event loop's thread.

Every SQLite call here runs inline (`sqlite_inline.py`): each statement takes microseconds,
and sqlite3 keeps them prepared. SQLite has one writer, so inside `BEGIN IMMEDIATE` the
current `seq` counters and feed heads are read and then written back advanced; each step
is one statement over all the batch's rows (a JSON array read with `json_each`, or
`executemany`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

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
from slychat.storage.search import index_new_messages
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
    f"SELECT {CHAT_COLUMNS} FROM chats WHERE product_id = ? AND vendor_id = ? AND customer_id = ?"
)
_INSERT_CHAT = f"INSERT INTO chats ({CHAT_COLUMNS}) VALUES ({', '.join('?' * 16)})"
_STORED_BEFORE = (
    f"SELECT {MESSAGE_COLUMNS} FROM json_each(?) AS k JOIN messages m "
    "ON m.chat_id = json_extract(k.value, '$[0]') "
    "AND m.sender_type = json_extract(k.value, '$[1]') "
    "AND m.client_message_id = json_extract(k.value, '$[2]')"
)
_SEQS = "SELECT c.id, c.last_seq FROM json_each(?) AS k JOIN chats c ON c.id = k.value"
_SET_SEQ = "UPDATE chats SET last_seq = ?, last_message_at = ?, updated_at = ? WHERE id = ?"
_HEADS = (
    "SELECT h.user_type, h.user_id, h.pos FROM json_each(?) AS k JOIN feed_heads h "
    "ON h.user_type = json_extract(k.value, '$[0]') AND h.user_id = json_extract(k.value, '$[1]')"
)
_SET_HEAD = (
    "INSERT INTO feed_heads (user_type, user_id, pos) VALUES (?, ?, ?) "
    "ON CONFLICT (user_type, user_id) DO UPDATE SET pos = excluded.pos"
)
_INSERT_CHAT_CHANGE = (
    "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, at) VALUES (?, ?, ?, 'chat', ?, ?)"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, client_message_id, "
    "created_at, recipient_online, read, delivered_at, customer_id, vendor_id, customer_pos, "
    "vendor_pos, media_count, reply_to_id, original_text) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO webhook_outbox (id, event, payload, created_at, next_attempt_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_MEDIA = (
    "INSERT INTO message_media (id, message_id, position, file_key, thumbnail_key, mime_type, "
    "size, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteSendStore:
    def __init__(self, db: Database, webhooks: bool = False) -> None:
        self.db = db
        self.webhooks = webhooks  # write a `chat.created` outbox row with each new chat

    def _sql(self, conn: sqlite3.Connection) -> _Statements:
        return _Statements(conn, self.webhooks)

    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        async def attempt() -> list[Stored]:
            async with self.db.write_lock(), self.db.driver_connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    stored = await store_batch(self._sql(conn), batch, now_ms())
                    conn.execute("COMMIT")
                except sqlite3.IntegrityError as exc:
                    _rollback(conn)
                    raise UniqueViolation(str(exc)) from exc
                except BaseException:
                    _rollback(conn)
                    raise
                return stored

        return await self.db.retrying(attempt)

    async def open_chat(self, key: ChatKey, details: ChatDetails) -> tuple[Chat, bool]:
        async def attempt() -> tuple[Chat, bool]:
            async with self.db.write_lock(), self.db.driver_connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    opened = await open_chat_alone(self._sql(conn), key, details, now_ms())
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
                return opened

        return await self.db.retrying(attempt)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # some errors end the transaction themselves
        conn.execute("ROLLBACK")


class _Statements:
    """Each statement is read to the end: one left mid-way keeps its read snapshot open,
    and then SQLite can never start the WAL over (see `sqlite_checkpoint.py`)."""

    def __init__(self, conn: sqlite3.Connection, webhooks: bool) -> None:
        self.conn = conn
        self.webhooks = webhooks

    async def open_chat(
        self, key: ChatKey, details: ChatDetails | None, now: int
    ) -> tuple[Chat, bool]:
        params = (key.product_id, key.vendor_id, key.customer_id)
        rows = self.conn.execute(_CHAT_BY_KEY, params).fetchall()
        if rows:
            return chat_from_row(rows[0]), False
        if details is None:
            raise ChatMissing(str(key))
        chat = new_chat(key, details, now)
        self.conn.execute(_INSERT_CHAT, chat_row(chat))
        if self.webhooks:  # every chat is created here, so every chat is reported
            entry = chat_created(chat, now)
            self.conn.execute(_INSERT_OUTBOX, (entry.id, entry.event, entry.payload, now, now))
        return chat, True

    async def stored_before(self, keys: Sequence[tuple[str, str, str]]) -> list[Message]:
        rows = self.conn.execute(_STORED_BEFORE, (json.dumps(keys),)).fetchall()
        return [message_from_row(row) for row in rows]

    async def take_seqs(self, counts: dict[str, int], now: int) -> dict[str, int]:
        rows = self.conn.execute(_SEQS, (json.dumps(list(counts)),)).fetchall()
        if len(rows) != len(counts):
            raise ChatMissing(", ".join(set(counts) - {row[0] for row in rows}))
        self.conn.executemany(_SET_SEQ, ((last + counts[cid], now, now, cid) for cid, last in rows))
        return {cid: last + 1 for cid, last in rows}

    async def take_positions(self, counts: dict[User, int]) -> dict[User, int]:
        users = sorted(counts, key=lock_order)
        keys = json.dumps([(u.role.value, u.id) for u in users])
        rows = self.conn.execute(_HEADS, (keys,)).fetchall()
        heads = {User(Role(t), uid): pos for t, uid, pos in rows}
        first = {u: heads.get(u, 0) + 1 for u in users}
        self.conn.executemany(
            _SET_HEAD, ((u.role.value, u.id, first[u] + counts[u] - 1) for u in users)
        )
        return first

    async def insert_chat_changes(self, changes: Sequence[ChatChange]) -> None:
        self.conn.executemany(
            _INSERT_CHAT_CHANGE,
            ((u.role.value, u.id, pos, chat_id, at) for u, pos, chat_id, at in changes),
        )

    async def insert_messages(self, items: Sequence[Outgoing], messages: Sequence[Message]) -> None:
        self.conn.executemany(
            _INSERT_MESSAGE,
            (
                (m.id, m.chat_id, m.seq, m.sender.id, m.sender.role.value, m.text,
                 m.client_message_id, m.created_at, m.recipient_online, m.delivered_at,
                 item.key.customer_id, item.key.vendor_id, m.customer_pos, m.vendor_pos,
                 m.media_count, m.reply_to_id, item.original_text)
                for item, m in zip(items, messages, strict=True)
            ),
        )  # fmt: skip
        index_new_messages(self.conn, [m.id for m in messages])

    async def insert_media(self, rows: Sequence[MediaRow]) -> None:
        self.conn.executemany(_INSERT_MEDIA, (media_row(*row) for row in rows))
