"""Nothing lost, nothing duplicated, nothing out of order: sync after reconnect, paging."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from slychat.domain.ids import now_ms
from tests.conftest import UserFactory
from tests.dbcheck import message_rows
from tests.support import (
    Client,
    Server,
    new_chat_fields,
    next_id,
    rs256,
    rsa_keys,
    signed_cursor,
    token,
)


async def _pair(connect: UserFactory) -> tuple[Client, Client, str, str]:
    """A customer and a vendor with a chat between them; (customer, vendor, product, chat)."""
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"s-{next_id()}"
    ack = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "first", **new_chat_fields()},
    )
    await vendor.wait("newChat")
    return customer, vendor, product, ack["data"]["chatId"]


def _messages(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["message"] for c in changes if c["type"] == "message"]


async def test_reconnect_with_cursor_gets_exactly_what_was_missed(
    connect: UserFactory, server: Server
) -> None:
    customer, vendor, product, chat_id = await _pair(connect)
    to_vendor = {"productId": product, "recipientId": vendor.id}
    to_customer = {"productId": product, "recipientId": customer.id}
    seen = await customer.call("sendMessage", to_vendor | {"text": "seen, then deleted"})
    await vendor.wait("receiveMessage", lambda d: d["data"][0]["id"] == seen["data"]["id"])
    reply = await vendor.call("sendMessage", to_customer | {"text": "reply"})
    cursor = reply["data"]["syncCursor"]
    assert cursor

    await vendor.kill_transport()
    sent = [
        await customer.call("sendMessage", to_vendor | {"text": f"away {i}"}) for i in range(100)
    ]
    await customer.call("markAsRead", to_vendor)
    await customer.call("deleteMessage", {"messageId": seen["data"]["id"]})

    back = Client(server.url, "vendor", vendor.id)
    try:
        await back.connect(auth={"token": token("vendor", vendor.id), "syncCursor": cursor})
        page = (await back.wait("syncMessages"))["data"]
        offline = await back.wait("offlineMessages")
    finally:
        await back.close()

    assert page.get("reset") is not True
    assert page["hasMore"] is False
    got = _messages(page["changes"])
    assert [m["id"] for m in got] == [a["data"]["id"] for a in sent]
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
    kinds = [(c["type"], c.get("messageId")) for c in page["changes"] if c["type"] != "message"]
    assert ("read", None) in kinds
    assert ("deleted", seen["data"]["id"]) in kinds
    read = next(c for c in page["changes"] if c["type"] == "read")
    assert read["messageIds"] == [reply["data"]["id"]]
    assert read["readerType"] == "CUSTOMER"
    assert offline["data"] == []  # the sync carried them; nothing is handed over twice
    stored = await message_rows(server.database_url, chat_id)
    assert all(r.delivered_at is not None for r in stored if r.sender_type == "CUSTOMER")


async def test_sync_pages_resume_where_they_stopped(connect: UserFactory) -> None:
    customer, vendor, product, _chat = await _pair(connect)
    start = (await vendor.call("getUserChats"))["syncCursor"]
    ids = [
        (
            await customer.call(
                "sendMessage", {"productId": product, "recipientId": vendor.id, "text": f"m{i}"}
            )
        )["data"]["id"]
        for i in range(25)
    ]

    got: list[str] = []
    cursor, pages = start, 0
    while True:
        page = (await vendor.request("syncMessages", {"since": cursor, "limit": 10}))["data"]
        got += [m["id"] for m in _messages(page["changes"])]
        cursor, pages = page["syncCursor"], pages + 1
        if not page["hasMore"]:
            break

    assert got == ids
    assert pages == 3
    again = (await vendor.request("syncMessages", {"since": cursor}))["data"]
    assert again["changes"] == []
    assert again["hasMore"] is False


async def test_cursors_the_server_did_not_issue_to_you_reset(connect: UserFactory) -> None:
    customer, vendor, *_ = await _pair(connect)
    someone_elses = (await customer.call("getUserChats"))["syncCursor"]
    mine = (await vendor.call("getUserChats"))["syncCursor"]
    forged = mine[:-2] + ("AA" if not mine.endswith("AA") else "BB")

    for cursor in (someone_elses, forged, "garbage", "v1.x.y"):
        page = (await vendor.request("syncMessages", {"since": cursor}))["data"]
        assert page["reset"] is True, cursor
        assert page["changes"] == []
        assert page["syncCursor"]


async def test_a_cursor_older_than_retention_gets_reset(
    spawn_server: Callable[..., Server],
) -> None:
    srv = spawn_server(SLYCHAT_SYNC_RETENTION="1s")
    vendor = Client(srv.url, "vendor", next_id())
    try:
        await (await vendor.connect()).ready()
        cursor = vendor.last("userChats")["syncCursor"]
        fresh = (await vendor.request("syncMessages", {"since": cursor}))["data"]
        assert fresh.get("reset") is not True
        await asyncio.sleep(1.2)
        stale = (await vendor.request("syncMessages", {"since": cursor}))["data"]
    finally:
        await vendor.close()
    assert stale["reset"] is True
    assert stale["changes"] == []
    assert stale["hasMore"] is False


async def test_retry_storm_stores_one_message(connect: UserFactory, server: Server) -> None:
    customer, vendor, product, chat_id = await _pair(connect)
    payload = {
        "productId": product,
        "recipientId": vendor.id,
        "text": "retry",
        "clientMessageId": "storm-1",
    }

    acks = await asyncio.gather(*(customer.call("sendMessage", payload) for _ in range(20)))

    assert len({a["data"]["id"] for a in acks}) == 1
    assert [r.text for r in await message_rows(server.database_url, chat_id)] == ["first", "retry"]
    await asyncio.sleep(0.3)
    assert [d["data"][0]["text"] for d in vendor.received("receiveMessage")] == ["retry"]


async def test_back_to_back_messages_keep_their_order(connect: UserFactory) -> None:
    customer, vendor, product, _chat = await _pair(connect)
    for i in range(40):  # fire and forget: no waiting between emits
        await customer.emit(
            "sendMessage", {"productId": product, "recipientId": vendor.id, "text": f"o{i}"}
        )
    for i in range(40):
        got = await vendor.wait("receiveMessage")
        assert got["data"][0]["text"] == f"o{i}"
    seqs = [d["data"][0]["seq"] for d in vendor.received("receiveMessage")]
    assert seqs == sorted(seqs)


async def test_offline_messages_come_in_bounded_batches(
    spawn_server: Callable[..., Server], server: Server
) -> None:
    srv = spawn_server(SLYCHAT_OFFLINE_BATCH="10")
    vendor_id, product = next_id(), f"b-{next_id()}"
    customer = Client(srv.url, "customer", next_id())
    vendor = Client(srv.url, "vendor", vendor_id)
    try:
        await (await customer.connect()).ready()
        sent = [
            (
                await customer.call(
                    "sendMessage",
                    {
                        "productId": product,
                        "recipientId": vendor_id,
                        "text": f"q{i}",
                        **new_chat_fields(),
                    },
                )
            )["data"]["id"]
            for i in range(25)
        ]
        await (await vendor.connect()).ready()
        first = vendor.last("offlineMessages")
        second = await vendor.request("getOfflineMessages", reply="offlineMessages")
        third = await vendor.request("getOfflineMessages", reply="offlineMessages")
        delivered = await customer.wait("messagesDelivered")
    finally:
        await asyncio.gather(customer.close(), vendor.close())

    batches = [first, second, third]
    assert [len(b["data"]) for b in batches] == [10, 10, 5]
    assert [b["hasMore"] for b in batches] == [True, True, False]
    assert [m["id"] for b in batches for m in b["data"]] == sent
    assert delivered["data"]["messageIds"] == sent[:10]


async def test_user_chats_carry_unread_counts_and_a_total(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customers = [await connect("customer") for _ in range(2)]
    for n, customer in enumerate(customers, start=1):
        for i in range(n + 1):
            await customer.call(
                "sendMessage",
                {
                    "productId": f"u-{vendor.id}-{n}",
                    "recipientId": vendor.id,
                    "text": f"t{i}",
                    **new_chat_fields(),
                },
            )

    chats = await vendor.request("getUserChats", reply="userChats")

    assert sorted(c["unreadCount"] for c in chats["data"]) == [2, 3]
    assert chats["totalUnread"] == 5
    first = chats["data"][0]
    await vendor.call("joinChat", {"chatId": first["id"]})
    assert (await vendor.call("getUserChats"))["totalUnread"] == 5 - first["unreadCount"]


async def test_a_public_key_setup_signs_cursors_with_a_stored_secret(
    spawn_server: Callable[..., Server],
) -> None:
    """RS256 without SLYCHAT_CURSOR_SECRET: the cursor key was derived from the public key,
    so anybody could sign a cursor (here: dated in the far future, past the retention). Now
    the first node generates a key and stores it, and every node uses that one."""
    public_key_setup = {
        "SLYCHAT_JWT_ALGORITHMS": "RS256",
        "SLYCHAT_JWT_PUBLIC_KEY": rsa_keys()[1],
        "SLYCHAT_JWT_SECRET": "",
    }
    a, b = spawn_server(**public_key_setup), spawn_server(**public_key_setup)
    user_id = next_id()
    on_a, on_b = Client(a.url, "vendor", user_id), Client(b.url, "vendor", user_id)
    try:
        for client in (on_a, on_b):
            await client.connect(auth={"token": rs256("vendor", user_id)})
            await client.ready()
        cursor = on_a.last("userChats")["syncCursor"]
        public_derived = hmac.new(rsa_keys()[1].encode(), b"sync-cursor", hashlib.sha256).digest()
        forged = signed_cursor(f"VENDOR:{user_id}:0:{now_ms() + 10**12}", public_derived)
        for client in (on_a, on_b):
            page = (await client.request("syncMessages", {"since": forged}))["data"]
            assert page["reset"] is True
            # A cursor one node issued is good on the other: they share the key.
            page = (await client.request("syncMessages", {"since": cursor}))["data"]
            assert page.get("reset") is not True
    finally:
        await asyncio.gather(on_a.close(), on_b.close())


CURSOR_KEY = "cursor-secret-0123456789abcdef0123"


async def test_cursors_out_of_range_or_unreadable_reset_never_fail(
    spawn_server: Callable[..., Server],
) -> None:
    """Cursors signed with the right key but holding numbers the database cannot take (a
    position of -10^30 was a 500: SQLite's OverflowError), or holding non-ASCII characters
    (hmac.compare_digest refused them: a 500), are a `reset`, by syncMessages and at the
    handshake alike, and the connection stays up."""
    srv = spawn_server(SLYCHAT_CURSOR_SECRET=CURSOR_KEY)
    user_id = next_id()
    key = CURSOR_KEY.encode()
    hostile = [
        signed_cursor(f"VENDOR:{user_id}:{-(10**30)}:{now_ms()}", key),
        signed_cursor(f"VENDOR:{user_id}:-1:{now_ms()}", key),
        signed_cursor(f"VENDOR:{user_id}:{2**63}:{now_ms()}", key),
        signed_cursor(f"VENDOR:{user_id}:0:{10**30}", key),
        signed_cursor(f"VENDOR:{user_id}:\u0661:{now_ms()}", key),
        signed_cursor(f"VENDOR:0{user_id}:0:{now_ms()}", key),
        "v1.é.é",
        "v1.VkVORE9SOjc6MTI6MTgwMDAwMDAwMDAwMA.\u00e9\u00e9\u00e9\u00e9",
        "v1.\U0001f600.\U0001f600",
    ]
    vendor = Client(srv.url, "vendor", user_id)
    try:
        await (await vendor.connect()).ready()
        for cursor in hostile:
            page = (await vendor.request("syncMessages", {"since": cursor}))["data"]
            assert page["reset"] is True, cursor
            assert page["changes"] == []
        assert vendor.received("appError") == []
    finally:
        await vendor.close()
    for cursor in hostile[:1] + hostile[-3:]:
        again = Client(srv.url, "vendor", user_id)
        try:
            await again.connect(auth={"token": token("vendor", user_id), "syncCursor": cursor})
            await again.ready()
            page = (await again.wait("syncMessages"))["data"]
            assert page["reset"] is True, cursor
            assert again.received("appError") == []
            assert again.sio.connected
        finally:
            await again.close()
