"""The send path's storage: a batch of messages in one transaction, stored set-wise.

It runs on the database drivers directly (a third of a saturated server's time went to
SQLAlchemy's statement machinery), and each step is one statement over the whole batch,
however large: find which messages are retries of stored ones, take each chat's next `seq`
numbers, take each participant's next feed positions, insert every message. Chats that
are not known to exist are found or created first, one by one (a conversation's first
message is rare).

Numbers are handed out in batch order, so messages of one chat, and changes in one user's
feed, keep the order their senders were answered in. A retry within the batch (two tabs
resending the same `clientMessageId`) is answered with the first one's message.

The steps are written once, here; each engine has one small module with its statements
and its transaction: `send_sqlite.py` and `send_postgres.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from slychat.domain.identity import User
from slychat.domain.ids import new_id
from slychat.domain.models import Chat, ChatDetails, ChatKey, Media, Message


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to store. `chat_id` is set when the chat is known to exist; otherwise
    `details` fill the chat that the message creates (unless it exists by then)."""

    key: ChatKey
    chat_id: str | None
    sender: User
    text: str | None
    client_message_id: str | None
    recipient_online: bool
    delivered: bool
    details: ChatDetails | None = None
    media: tuple[Media, ...] = ()  # files already in the media store
    reply_to_id: str | None = None  # checked by the sender: a live message of the chat
    original_text: str | None = None  # as written, when `text` has contact details masked


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


class SendStore(Protocol):
    async def store(self, batch: Sequence[Outgoing]) -> list[Stored]:
        """Store every message of `batch` in one transaction, in order; all or nothing."""
        ...

    async def open_chat(self, key: ChatKey, details: ChatDetails) -> tuple[Chat, bool]:
        """The chat at `key`, created without a message unless it exists (one
        transaction, `open_chat_alone`); whether this call created it."""
        ...


ChatChange = tuple[User, int, str, int]  # user, position, chat id, at
MediaRow = tuple[str, Media, int, int]  # message id, media, position, at


class Statements(Protocol):
    """One engine's statements for the steps, inside its open transaction."""

    async def open_chat(
        self, key: ChatKey, details: ChatDetails | None, now: int
    ) -> tuple[Chat, bool]:
        """The chat at `key`, created from `details` unless it exists, and whether this
        call created it; `ChatMissing` if it does not exist and there are no details."""
        ...

    async def stored_before(self, keys: Sequence[tuple[str, str, str]]) -> list[Message]:
        """The stored messages these (chat, sender side, client id) name."""
        ...

    async def take_seqs(self, counts: dict[str, int], now: int) -> dict[str, int]:
        """Reserve `counts[chat]` numbers in each chat; the first of each."""
        ...

    async def take_positions(self, counts: dict[User, int]) -> dict[User, int]:
        """Reserve `counts[user]` positions in each user's feed; the first of each. Heads
        are taken in the global lock order (`feeds.lock_order`)."""
        ...

    async def insert_chat_changes(self, changes: Sequence[ChatChange]) -> None: ...

    async def insert_messages(
        self, items: Sequence[Outgoing], messages: Sequence[Message]
    ) -> None: ...

    async def insert_media(self, rows: Sequence[MediaRow]) -> None: ...


async def store_batch(sql: Statements, batch: Sequence[Outgoing], now: int) -> list[Stored]:
    """Store `batch` inside the caller's open transaction."""
    items, created = await _open_chats(sql, batch, now)
    asked = [_retry_key(item) for item in items if item.client_message_id is not None]
    stored_before = {
        (m.chat_id, m.sender.role.value, m.client_message_id or ""): m
        for m in (await sql.stored_before(asked) if asked else [])
    }
    results: list[Stored | None] = [None] * len(items)
    first_in_batch: dict[tuple[str, str, str], int] = {}
    retries: dict[int, int] = {}  # a retry within the batch -> the item it repeats
    fresh_at: list[int] = []
    for i, item in enumerate(items):
        if item.client_message_id is not None:
            key = _retry_key(item)
            if key in stored_before:
                results[i] = Stored(stored_before[key], duplicate=True)
                continue
            if key in first_in_batch:
                retries[i] = first_in_batch[key]
                continue
            first_in_batch[key] = i
        fresh_at.append(i)
    messages = await _number(sql, [items[i] for i in fresh_at], fresh_at, created, now)
    stored = dict(zip(fresh_at, messages, strict=True))
    for i, message in stored.items():
        results[i] = Stored(message, created=created.get(i))
    for i, first in retries.items():
        results[i] = Stored(stored[first], duplicate=True)
    return [r for r in results if r is not None]  # every item has exactly one


async def open_chat_alone(
    sql: Statements, key: ChatKey, details: ChatDetails, now: int
) -> tuple[Chat, bool]:
    """A chat opened without a message, inside the caller's open transaction: created
    through `open_chat` like every chat, and a `chat` change in both participants' feeds
    so that both learn of it through syncMessages."""
    chat, created = await sql.open_chat(key, details, now)
    if created:
        users = (key.customer, key.vendor)
        first = await sql.take_positions(dict.fromkeys(users, 1))
        await sql.insert_chat_changes([(u, first[u], chat.id, now) for u in users])
    return chat, created


async def _open_chats(
    sql: Statements, batch: Sequence[Outgoing], now: int
) -> tuple[list[Outgoing], dict[int, Chat]]:
    """`batch` with every chat id known, and the chats that items created, by index."""
    items: list[Outgoing] = []
    created: dict[int, Chat] = {}
    for i, item in enumerate(batch):
        if item.chat_id is None:
            chat, is_new = await sql.open_chat(item.key, item.details, now)
            if is_new:
                created[i] = chat
            item = replace(item, chat_id=chat.id)
        items.append(item)
    return items, created


def _retry_key(item: Outgoing) -> tuple[str, str, str]:
    return (item.chat_id or "", item.sender.role.value, item.client_message_id or "")


async def _number(
    sql: Statements,
    items: list[Outgoing],
    indexes: list[int],
    created: dict[int, Chat],
    now: int,
) -> list[Message]:
    """Insert the messages of `items` with their `seq` and feed positions taken in batch
    order; a chat one of them created is a change in both feeds just before it."""
    if not items:
        return []
    next_seq = await sql.take_seqs(dict(Counter(item.chat_id or "" for item in items)), now)
    feeds: Counter[User] = Counter()
    for i, item in zip(indexes, items, strict=True):
        steps = 2 if i in created else 1
        feeds[item.key.customer] += steps
        feeds[item.key.vendor] += steps
    next_pos = await sql.take_positions(dict(feeds))
    changes: list[ChatChange] = []
    messages = []
    for i, item in zip(indexes, items, strict=True):
        chat_id = item.chat_id or ""
        customer, vendor = item.key.customer, item.key.vendor
        if i in created:
            changes += [(u, _advance(next_pos, u), chat_id, now) for u in (customer, vendor)]
        messages.append(
            Message(
                id=new_id(),
                chat_id=chat_id,
                seq=_advance(next_seq, chat_id),
                sender=item.sender,
                text=item.text,
                created_at=now,
                recipient_online=item.recipient_online,
                client_message_id=item.client_message_id,
                delivered_at=now if item.delivered else None,
                customer_pos=_advance(next_pos, customer),
                vendor_pos=_advance(next_pos, vendor),
                media_count=len(item.media),
                media=item.media,
                reply_to_id=item.reply_to_id,
                masked=item.original_text is not None,
            )
        )
    if changes:
        await sql.insert_chat_changes(changes)
    await sql.insert_messages(items, messages)
    media = [(m.id, f, i, now) for m in messages for i, f in enumerate(m.media)]
    if media:
        await sql.insert_media(media)
    return messages


def _advance(counters: dict[Any, int], key: Any) -> int:
    """The next number of `key`'s counter, then move it on."""
    value = counters[key]
    counters[key] = value + 1
    return value


def new_chat(key: ChatKey, details: ChatDetails, now: int) -> Chat:
    """A chat as `open_chat` creates it."""
    return Chat(new_id(), key, details, last_seq=0, last_message_at=now, created_at=now,
                updated_at=now)  # fmt: skip
