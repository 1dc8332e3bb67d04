"""The send path's storage: a batch of messages stored in one transaction.

It runs on the database drivers directly (a third of a saturated server's time went to
SQLAlchemy's statement machinery). The steps are written once, here; each dialect has one
small module with its statements and its transaction: `send_sqlite.py`, `send_postgres.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slychat.identity import Role, User
from slychat.ids import new_id
from slychat.models import Chat, ChatDetails, ChatKey, Message


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to store. `chat_id` is set when the chat is known to exist; otherwise
    `details` fill the chat that the message creates (unless a concurrent first message
    created it already)."""

    key: ChatKey
    chat_id: str | None
    sender: User
    text: str | None
    client_message_id: str | None
    recipient_online: bool
    delivered: bool
    details: ChatDetails | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing an `Outgoing` gave: the message (the first one, for a retry), and the
    chat when this message created it."""

    message: Message
    created: Chat | None = None
    duplicate: bool = False


class UniqueViolation(Exception):
    """A concurrent transaction committed the same clientMessageId first."""


class ChatMissing(Exception):
    """The message names a chat that does not exist and brings no details to create it."""


class Driver(Protocol):
    """A dialect's way to run the statements below on its driver's connection, inside an
    open transaction. Parameters are written `?`."""

    async def fetchrow(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None: ...

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        """Run `sql`; the number of rows it changed."""
        ...


class SendStore(Protocol):
    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        """Store every message of `batch` in one transaction, in order; all or nothing."""
        ...


async def store_batch(driver: Driver, batch: Sequence[Outgoing], now: int) -> list[Stored]:
    """Store each message of `batch` in order, inside the caller's open transaction."""
    sql = _Statements(driver)
    return [await _store_one(sql, item, now) for item in batch]


async def _store_one(sql: _Statements, item: Outgoing, now: int) -> Stored:
    key = item.key
    if item.client_message_id is not None:
        first = await sql.first_by_client_id(item, item.client_message_id)
        if first is not None:
            return Stored(first, duplicate=True)
    created: Chat | None = None
    if item.chat_id is not None:
        seq = await sql.bump_by_id(item.chat_id, now)
        if seq is None:
            raise ChatMissing(item.chat_id)
        chat_id = item.chat_id
    else:
        chat = await sql.bump_by_key(key, now)
        if chat is None:
            if item.details is None:
                raise ChatMissing(str(key))
            inserted = await sql.insert_chat(key, item.details, now)
            chat = await sql.bump_by_key(key, now)
            if chat is None:  # pragma: no cover - inserted, or a concurrent insert won
                raise ChatMissing(str(key))
            created = chat if inserted else None
        chat_id, seq = chat.id, chat.last_seq
    # A new chat is a change in both feeds, just before its first message.
    customer_pos, vendor_pos = await sql.bump_heads(key, 2 if created else 1)
    if created is not None:
        await sql.insert_chat_changes(key, chat_id, now, (customer_pos - 1, vendor_pos - 1))
    message = Message(
        id=new_id(),
        chat_id=chat_id,
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
    await sql.insert_message(message, key)
    return Stored(message, created=created)


# Columns are listed in the order `_chat` and `_message` read them.
_CHAT = (
    "id, product_id, vendor_id, customer_id, product_image_url, product_price, product_name, "
    "store_logo_url, customer_profile_pic, customer_name, store_name, last_seq, "
    "last_message_at, created_at, updated_at"
)
MESSAGE_COLUMNS = (
    "m.id, m.chat_id, m.seq, m.sender_id, m.sender_type, m.text, m.created_at, "
    "m.recipient_online, m.client_message_id, m.read, m.read_at, m.delivered_at, "
    "m.deleted_at, m.customer_pos, m.vendor_pos"
)
_BY_CLIENT_ID = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN chats c ON c.id = m.chat_id "
    "WHERE c.product_id = ? AND c.vendor_id = ? AND c.customer_id = ? "
    "AND m.sender_type = ? AND m.client_message_id = ?"
)
_BY_CLIENT_ID_IN_CHAT = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages m "
    "WHERE m.chat_id = ? AND m.sender_type = ? AND m.client_message_id = ?"
)
# The UPDATE row-locks the chat until commit: concurrent senders in one chat queue here
# and get consecutive numbers.
_BUMP = "UPDATE chats SET last_seq = last_seq + 1, last_message_at = ?, updated_at = ? "
_BUMP_BY_ID = _BUMP + "WHERE id = ? RETURNING last_seq"
_BUMP_BY_KEY = (
    _BUMP + f"WHERE product_id = ? AND vendor_id = ? AND customer_id = ? RETURNING {_CHAT}"
)
_INSERT_CHAT = (
    f"INSERT INTO chats ({_CHAT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) "
    "ON CONFLICT (product_id, vendor_id, customer_id) DO NOTHING"
)
# Customer first: the global lock order of feed heads (`feeds.lock_order`). The row locks
# are held until commit, so each user's feed positions are handed out in commit order.
_BUMP_HEADS = (
    "INSERT INTO feed_heads (user_type, user_id, pos) VALUES ('CUSTOMER', ?, ?), "
    "('VENDOR', ?, ?) ON CONFLICT (user_type, user_id) "
    "DO UPDATE SET pos = feed_heads.pos + excluded.pos RETURNING user_type, pos"
)
_INSERT_CHAT_CHANGE = (
    "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, at) VALUES (?, ?, ?, 'chat', ?, ?)"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (id, chat_id, seq, sender_id, sender_type, text, client_message_id, "
    "created_at, recipient_online, read, delivered_at, customer_id, vendor_id, customer_pos, "
    "vendor_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?, ?)"
)


class _Statements:
    def __init__(self, driver: Driver) -> None:
        self.db = driver

    async def first_by_client_id(self, item: Outgoing, client_message_id: str) -> Message | None:
        """The message `item`'s sender already stored in its chat under this client id."""
        role = item.sender.role.value
        if item.chat_id is not None:
            params: tuple[Any, ...] = (item.chat_id, role, client_message_id)
            row = await self.db.fetchrow(_BY_CLIENT_ID_IN_CHAT, params)
        else:
            key = item.key
            params = (key.product_id, key.vendor_id, key.customer_id, role, client_message_id)
            row = await self.db.fetchrow(_BY_CLIENT_ID, params)
        return None if row is None else message_from_row(row)

    async def bump_by_id(self, chat_id: str, now: int) -> int | None:
        row = await self.db.fetchrow(_BUMP_BY_ID, (now, now, chat_id))
        return None if row is None else int(row[0])

    async def bump_by_key(self, key: ChatKey, now: int) -> Chat | None:
        params = (now, now, key.product_id, key.vendor_id, key.customer_id)
        row = await self.db.fetchrow(_BUMP_BY_KEY, params)
        return None if row is None else _chat(row)

    async def insert_chat(self, key: ChatKey, d: ChatDetails, now: int) -> bool:
        """Create the chat unless it exists; whether this call created it."""
        params = (
            new_id(), key.product_id, key.vendor_id, key.customer_id, d.product_image_url,
            d.product_price, d.product_name, d.store_logo_url, d.customer_profile_pic,
            d.customer_name, d.store_name, now, now, now,
        )  # fmt: skip
        return await self.db.execute(_INSERT_CHAT, params) == 1

    async def bump_heads(self, key: ChatKey, steps: int) -> tuple[int, int]:
        """Advance both participants' feed heads by `steps`; (customer, vendor) heads."""
        params = (key.customer_id, steps, key.vendor_id, steps)
        heads = {row[0]: int(row[1]) for row in await self.db.fetchall(_BUMP_HEADS, params)}
        return heads["CUSTOMER"], heads["VENDOR"]

    async def insert_chat_changes(
        self, key: ChatKey, chat_id: str, at: int, pos: tuple[int, int]
    ) -> None:
        """The `chat` change in both feeds, at (customer, vendor) positions `pos`."""
        await self.db.execute(
            _INSERT_CHAT_CHANGE, ("CUSTOMER", key.customer_id, pos[0], chat_id, at)
        )
        await self.db.execute(_INSERT_CHAT_CHANGE, ("VENDOR", key.vendor_id, pos[1], chat_id, at))

    async def insert_message(self, m: Message, key: ChatKey) -> None:
        params = (
            m.id, m.chat_id, m.seq, m.sender.id, m.sender.role.value, m.text,
            m.client_message_id, m.created_at, m.recipient_online, m.delivered_at,
            key.customer_id, key.vendor_id, m.customer_pos, m.vendor_pos,
        )  # fmt: skip
        await self.db.execute(INSERT_MESSAGE, params)


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(
        id=row[0],
        key=ChatKey(row[1], row[2], row[3]),
        details=ChatDetails(*row[4:11]),
        last_seq=row[11],
        last_message_at=row[12],
        created_at=row[13],
        updated_at=row[14],
    )


def message_from_row(row: Sequence[Any]) -> Message:
    return Message(
        id=row[0],
        chat_id=row[1],
        seq=row[2],
        sender=User(Role(row[4]), row[3]),
        text=row[5],
        created_at=row[6],
        recipient_online=bool(row[7]),
        client_message_id=row[8],
        read=bool(row[9]),
        read_at=row[10],
        delivered_at=row[11],
        deleted_at=row[12],
        customer_pos=row[13],
        vendor_pos=row[14],
    )
