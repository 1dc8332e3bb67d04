"""The send path's stores on both engines: a batch in one transaction, retries answered
with the first message, consecutive `seq` and feed positions, messages in the feed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from slychat.container import send_store_for
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails, ChatKey
from slychat.storage import feeds
from slychat.storage.database import Database
from slychat.storage.send_batch import ChatMissing, Outgoing, SendStore, Stored

DETAILS = ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann")


def _message(
    key: ChatKey,
    text: str,
    *,
    chat_id: str | None,
    client_id: str | None = None,
    vendor_sends: bool = False,
    details: ChatDetails | None = None,
) -> Outgoing:
    sender = (
        User(Role.VENDOR, key.vendor_id) if vendor_sends else User(Role.CUSTOMER, key.customer_id)
    )
    return Outgoing(key, chat_id, sender, text, client_id, True, False, details)


async def _open_chat(store: SendStore, key: ChatKey) -> str:
    [first] = await store.store([_message(key, "hello", chat_id=None, details=DETAILS)])
    assert first.created is not None
    return first.created.id


async def test_a_batch_numbers_each_chat_and_feed_in_order(db: Database) -> None:
    store = send_store_for(db)
    a, b = ChatKey("p1", 10, 20), ChatKey("p2", 10, 21)
    chat_a, chat_b = await _open_chat(store, a), await _open_chat(store, b)

    stored = await store.store(
        [
            _message(a, "a1", chat_id=chat_a, client_id="x"),
            _message(b, "b1", chat_id=chat_b),
            _message(a, "a2", chat_id=chat_a, vendor_sends=True),
            _message(a, "a3", chat_id=chat_a),
        ]
    )

    assert [s.message.text for s in stored] == ["a1", "b1", "a2", "a3"]
    assert [s.message.seq for s in stored] == [2, 2, 3, 4]
    assert not any(s.duplicate or s.created for s in stored)
    # Vendor 10 is in both chats: one feed, positions in batch order after the two new
    # chats (a chat change and a message each).
    assert [s.message.vendor_pos for s in stored] == [5, 6, 7, 8]
    assert [s.message.customer_pos for s in stored] == [3, 3, 4, 5]
    async with db.read() as conn:
        entries, more = await feeds.feed_page(conn, User(Role.VENDOR, 10), 0, 100)
    assert not more
    assert [(e.kind, e.message.text if e.message else None) for e in entries] == [
        ("chat", None), ("message", "hello"), ("chat", None), ("message", "hello"),
        ("message", "a1"), ("message", "b1"), ("message", "a2"), ("message", "a3"),
    ]  # fmt: skip
    assert [e.pos for e in entries] == list(range(1, 9))


async def test_retries_in_and_across_batches_store_one_message(db: Database) -> None:
    store = send_store_for(db)
    key = ChatKey("p1", 10, 20)
    chat_id = await _open_chat(store, key)
    [first] = await store.store([_message(key, "once", chat_id=chat_id, client_id="c-1")])

    stored = await store.store(
        [
            _message(key, "again", chat_id=chat_id, client_id="c-1"),
            _message(key, "new", chat_id=chat_id, client_id="c-2"),
            _message(key, "new again", chat_id=chat_id, client_id="c-2"),
            # The same client id from the other side of the chat is another message.
            _message(key, "vendor's", chat_id=chat_id, client_id="c-2", vendor_sends=True),
        ]
    )

    assert [(s.duplicate, s.message.text) for s in stored] == [
        (True, "once"), (False, "new"), (True, "new"), (False, "vendor's"),
    ]  # fmt: skip
    assert stored[0].message.id == first.message.id
    assert stored[2].message.id == stored[1].message.id
    async with db.read() as conn:
        seqs = (await conn.execute(text("SELECT seq FROM messages ORDER BY seq"))).scalars()
        assert list(seqs) == [1, 2, 3, 4]


async def test_concurrent_first_messages_create_one_chat(db: Database) -> None:
    store = send_store_for(db)
    key = ChatKey("p1", 10, 20)

    results = await asyncio.gather(
        *(store.store([_message(key, f"m{i}", chat_id=None, details=DETAILS)]) for i in range(8))
    )

    stored: list[Stored] = [r[0] for r in results]
    assert len({s.message.chat_id for s in stored}) == 1
    assert sum(s.created is not None for s in stored) == 1
    assert sorted(s.message.seq for s in stored) == list(range(1, 9))


async def test_a_message_to_a_chat_that_is_not_there_stores_nothing(db: Database) -> None:
    store = send_store_for(db)
    key = ChatKey("p1", 10, 20)
    chat_id = await _open_chat(store, key)

    with pytest.raises(ChatMissing):
        await store.store(
            [_message(key, "fine", chat_id=chat_id), _message(key, "lost", chat_id="nope")]
        )

    async with db.read() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM messages"))).scalar_one()
    assert count == 1  # the whole batch rolled back; group commit retries it one by one
