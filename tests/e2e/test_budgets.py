"""List replies are bounded by a size budget as well as a count: a user whose chats are
full of long non-ASCII messages gets pages that stop before the budget and say hasMore,
and paging through them gives everything exactly once."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from tests.support import Client, Server, new_chat_fields, next_id, text_is, token

BUDGET = 32 * 1024
# The envelope around a list (status, message, cursors, counts) is not in the budget.
ENVELOPE = 2 * 1024
LONG = "Größe? Ça coûte combien € 😀 " * 70  # ~2,000 characters, ~2,700 bytes of UTF-8
CHATS = 8
PER_CHAT = 12


def _size(body: Any) -> int:
    return len(orjson.dumps(body))


async def _client(srv: Server, role: str, user_id: int | None = None, **auth: Any) -> Client:
    client = Client(srv.url, role, user_id if user_id is not None else next_id())
    await client.connect(auth={"token": token(role, client.id)} | auth)
    try:
        return await client.ready()
    except AssertionError:
        raise AssertionError(client.received("appError")) from None


async def test_every_list_stops_at_its_budget(spawn_server: Callable[..., Server]) -> None:
    srv = spawn_server(SLYCHAT_LIST_BUDGET_BYTES=str(BUDGET), SLYCHAT_RATE_LIMITS="off")
    customer = await _client(srv, "customer")
    start = customer.last("userChats")["syncCursor"]
    vendor_id = next_id()
    sent: list[str] = []
    for c in range(CHATS):
        product = f"p-{next_id()}"
        for i in range(PER_CHAT):
            ack = await customer.call(
                "sendMessage",
                {"productId": product, "recipientId": vendor_id, "text": f"{i} {LONG}"}
                | (new_chat_fields() if i == 0 else {}),
            )
            assert ack["error"] is False, (c, i, ack)
            sent.append(ack["data"]["id"])
    vendor = await _client(srv, "vendor", vendor_id)
    try:
        # offlineMessages: bounded batches, every message delivered exactly once.
        batch = vendor.last("offlineMessages")
        delivered: list[str] = []
        while True:
            assert _size(batch) <= BUDGET + ENVELOPE
            delivered += [m["id"] for m in batch["data"]]
            if not batch["hasMore"]:
                break
            batch = await vendor.request("getOfflineMessages", reply="offlineMessages")
        assert sorted(delivered) == sorted(sent)
        assert len(delivered) > len(batch["data"])  # it took several batches

        # userChats: each chat gets a share; the page stops before the budget.
        listed = vendor.last("userChats")
        assert _size(listed) <= BUDGET + ENVELOPE
        assert all(chat["hasMore"] for chat in listed["data"])  # trimmed to fit
        assert all(chat["messages"] for chat in listed["data"])  # but none left empty
        chats = await vendor.request("getUserChats", {"limit": 200}, "userChats")
        assert _size(chats) <= BUDGET + ENVELOPE

        # loadMessages: the newest messages that fit, hasMore, then older pages.
        chat_id = listed["data"][0]["id"]
        loaded = await vendor.request("joinChat", {"chatId": chat_id}, "loadMessages")
        assert _size(loaded) <= BUDGET + ENVELOPE
        page = loaded["data"]["messages"]
        assert loaded["data"]["hasMore"] is True
        older = await vendor.request(
            "joinChat", {"chatId": chat_id, "before": page[0]["id"]}, "loadMessages"
        )
        assert older["data"]["messages"][-1]["seq"] == page[0]["seq"] - 1

        # syncMessages: pages within the budget, resuming where each stopped.
        cursor, seen, pages = start, [], 0
        while True:
            body = await customer.request("syncMessages", {"since": cursor})
            assert _size(body) <= BUDGET + ENVELOPE
            data = body["data"]
            seen += [c["message"]["id"] for c in data["changes"] if c["type"] == "message"]
            cursor, pages = data["syncCursor"], pages + 1
            if not data["hasMore"]:
                break
        assert seen == sent
        assert pages > 1
    finally:
        await asyncio.gather(customer.close(), vendor.close())


async def test_a_heavy_reader_does_not_stall_others(spawn_server: Callable[..., Server]) -> None:
    """Reported, not asserted (timings on a shared machine drift): the round trip of a
    message between two users, idle and while another user pulls full lists in a loop."""
    srv = spawn_server(SLYCHAT_RATE_LIMITS="off")
    heavy = await _client(srv, "customer")
    vendor_id = next_id()
    for _ in range(20):
        product = f"p-{next_id()}"
        for i in range(10):
            await heavy.call(
                "sendMessage",
                {"productId": product, "recipientId": vendor_id, "text": LONG}
                | (new_chat_fields() if i == 0 else {}),
            )
    reader = await _client(srv, "vendor", vendor_id)
    customer, vendor = await _client(srv, "customer"), await _client(srv, "vendor")
    product = f"p-{next_id()}"
    first = {"productId": product, "recipientId": vendor.id, "text": "hi", **new_chat_fields()}
    await customer.call("sendMessage", first)

    async def round_trips(n: int) -> list[float]:
        times = []
        for i in range(n):
            began = time.perf_counter()
            await customer.call(
                "sendMessage", {"productId": product, "recipientId": vendor.id, "text": str(i)}
            )
            await vendor.wait("receiveMessage", text_is(str(i)))
            times.append((time.perf_counter() - began) * 1000)
        return times

    stop = asyncio.Event()
    pulled = 0

    async def pull() -> None:
        nonlocal pulled
        while not stop.is_set():
            await reader.request("getUserChats", {"limit": 200}, "userChats")
            pulled += 1

    try:
        idle = await round_trips(30)
        puller = asyncio.create_task(pull())
        busy = await round_trips(30)
        stop.set()
        await puller
    finally:
        await asyncio.gather(*(c.close() for c in (heavy, reader, customer, vendor)))
    print(
        f"\nround trip, median ms: idle {statistics.median(idle):.1f}, while another user "
        f"pulled {pulled} full chat lists {statistics.median(busy):.1f}"
    )
    assert pulled > 0
