"""Hostile clients: one abuser cannot hurt the others. Rate limits (429 with retryAfter,
nothing stored or emitted), connection caps, the handshake time limit, the packet cap and
the queue cap, on real servers with small limits."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import socketio
from websockets.exceptions import InvalidStatus

from tests import media_files
from tests.dbcheck import query
from tests.e2e.media_support import File, upload
from tests.e2e.raw_engineio import (
    answer_pings_until_closed,
    open_engineio,
    open_namespace,
    until_closed,
)
from tests.support import ON_POSTGRES, ON_SQLITE, Client, Server, new_chat_fields, next_id, text_is
from tests.support.chat import ready

# `ON_SQLITE`: the subject is buckets and sockets, nothing stored; what a limit must leave
# unstored runs on both engines.

QUIET = 0.4  # how long a negative assertion ("nothing arrived") waits

Spawn = Callable[..., Server]


def assert_rate_limited(body: Any) -> None:
    assert body["error"] is True, body
    assert body["statusCode"] == 429, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    assert body["retryAfter"] > 0, body


async def stored_texts(server: Server, customer_id: int, vendor_id: int) -> list[str]:
    rows = await query(
        server.database_url,
        "SELECT m.text FROM messages m JOIN chats c ON c.id = m.chat_id "
        "WHERE c.customer_id = :c AND c.vendor_id = :v ORDER BY c.id, m.seq",
        c=customer_id,
        v=vendor_id,
    )
    return [r.text for r in rows]


async def test_messages_over_the_rate_are_refused_with_429_and_nothing_is_stored(
    spawn_server: Spawn,
) -> None:
    srv = spawn_server(SLYCHAT_RATE_MESSAGES="3/m:3")
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    to_vendor = {"productId": f"p-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    try:
        for i in range(3):
            ack = await customer.call("sendMessage", to_vendor | {"text": f"m{i}"})
            assert ack["error"] is False, ack
        refused = await customer.call("sendMessage", to_vendor | {"text": "one too many"})
        assert_rate_limited(refused)
        assert 15 < refused["retryAfter"] <= 20  # a token every 20 s
        assert await customer.wait("appError") == refused

        await asyncio.sleep(QUIET)
        assert [d["data"][0]["text"] for d in vendor.received("receiveMessage")] == ["m1", "m2"]
        assert await stored_texts(srv, customer.id, vendor.id) == ["m0", "m1", "m2"]
        async with httpx.AsyncClient(base_url=srv.url) as http:
            metrics = (await http.get("/metrics")).text
        assert "slychat_rate_limited_total 1.0\n" in metrics

        # The refusal is the user's, on every socket of theirs; other users are not touched.
        tab = await ready(srv, "customer", customer.id)
        assert_rate_limited(await tab.call("sendMessage", to_vendor | {"text": "again"}))
        other = await ready(srv, "customer")
        to_vendor_too = to_vendor | {"productId": f"p-{next_id()}"}
        assert (await other.call("sendMessage", to_vendor_too | {"text": "hi"}))["error"] is False
    finally:
        for c in (vendor, customer):
            await c.close()


async def test_with_rate_limits_off_the_same_burst_goes_through(spawn_server: Spawn) -> None:
    srv = spawn_server(
        SLYCHAT_RATE_LIMITS="off", SLYCHAT_RATE_MESSAGES="3/m:3", SLYCHAT_RATE_EVENTS="3/m:3"
    )
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    to_vendor = {"productId": f"p-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    try:
        acks = [await customer.call("sendMessage", to_vendor | {"text": f"m{i}"}) for i in range(8)]
        assert [a["error"] for a in acks] == [False] * 8
        assert len(await stored_texts(srv, customer.id, vendor.id)) == 8
    finally:
        for c in (vendor, customer):
            await c.close()


@ON_SQLITE
async def test_typing_notices_are_limited_per_user(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_RATE_TYPING="2/m:2")
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    to_vendor = {"productId": f"p-{next_id()}", "recipientId": vendor.id}
    try:
        assert (await customer.call("typing", to_vendor))["error"] is False
        assert (await customer.call("stoppedTyping", to_vendor))["error"] is False
        assert_rate_limited(await customer.call("typing", to_vendor))
        assert_rate_limited(await customer.call("stoppedTyping", to_vendor))
        await vendor.wait("userTyping")
        await vendor.wait("stoppedTyping")
        await asyncio.sleep(QUIET)
        assert len(vendor.received("userTyping")) == len(vendor.received("stoppedTyping")) == 1
        # Typing is its own bucket: messages still go.
        ack = await customer.call("sendMessage", to_vendor | {"text": "hi", **new_chat_fields()})
        assert ack["error"] is False
    finally:
        for c in (vendor, customer):
            await c.close()


async def test_new_chats_are_limited_and_a_refused_one_stores_nothing(
    spawn_server: Spawn,
) -> None:
    srv = spawn_server(SLYCHAT_RATE_NEW_CHATS="2/h:2")
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    products = [f"p-{next_id()}" for _ in range(3)]

    def new(product: str, text: str) -> dict[str, Any]:
        return {"productId": product, "recipientId": vendor.id, "text": text} | new_chat_fields()

    try:
        for product in products[:2]:
            assert (await customer.call("sendMessage", new(product, "first")))["error"] is False
        refused = await customer.call("sendMessage", new(products[2], "third chat"))
        assert_rate_limited(refused)
        assert refused["retryAfter"] > 1000  # a new chat every 30 minutes
        # Messages in the chats that exist do not spend new chats.
        for _ in range(3):
            ack = await customer.call("sendMessage", new(products[0], "more"))
            assert ack["error"] is False

        await asyncio.sleep(QUIET)
        assert len(vendor.received("newChat")) == 2
        chats = await query(
            srv.database_url, "SELECT product_id FROM chats WHERE customer_id = :c", c=customer.id
        )
        assert sorted(r.product_id for r in chats) == sorted(products[:2])
        assert "third chat" not in await stored_texts(srv, customer.id, vendor.id)
    finally:
        for c in (vendor, customer):
            await c.close()


async def test_uploads_are_limited_and_count_as_messages(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_RATE_UPLOADS="2/m:2", SLYCHAT_RATE_MESSAGES="3/m:3")
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    product = f"p-{next_id()}"
    image = [File(media_files.png(), "a.png", "image/png")]

    async def send_image() -> httpx.Response:
        return await upload(
            srv,
            "send-image",
            image,
            user_id=customer.id,
            recipient_id=vendor.id,
            product_id=product,
        )

    try:
        assert [(await send_image()).status_code for _ in range(2)] == [201, 201]
        refused = await send_image()
        assert refused.status_code == 429, refused.text
        assert_rate_limited(refused.json())
        assert int(refused.headers["retry-after"]) >= 1
        # The refused upload spent no message: one message is left, then none.
        to_vendor = {"productId": product, "recipientId": vendor.id}
        assert (await customer.call("sendMessage", to_vendor | {"text": "a"}))["error"] is False
        assert_rate_limited(await customer.call("sendMessage", to_vendor | {"text": "b"}))

        rows = await query(
            srv.database_url,
            "SELECT count(*) AS n FROM message_media mm JOIN messages m ON m.id = mm.message_id "
            "JOIN chats c ON c.id = m.chat_id WHERE c.customer_id = :c",
            c=customer.id,
        )
        assert rows[0].n == 2
    finally:
        for c in (vendor, customer):
            await c.close()


@ON_SQLITE
async def test_every_event_spends_its_connection_s_bucket(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_RATE_EVENTS="4/m:4")
    vendor = await ready(srv, "vendor")
    tab = await ready(srv, "vendor", vendor.id)
    try:
        for _ in range(4):
            assert (await vendor.call("getUserChats"))["error"] is False
        refused = await vendor.call("getUserChats")
        assert_rate_limited(refused)
        assert refused["message"] == "Too many events on this connection"
        assert_rate_limited(await vendor.call("not-an-event"))  # every event counts
        # The user's other connection has its own bucket, and so has /presence.
        assert (await tab.call("getUserChats"))["error"] is False
        presence = await vendor.call(
            "checkOnlinePresence", {"userId": vendor.id, "userType": "VENDOR"}, "/presence"
        )
        assert presence["error"] is False
    finally:
        for c in (vendor, tab):
            await c.close()


async def _connect_error(client: Client) -> dict[str, Any]:
    """Connect `client`, which must be refused; the refusal of each namespace."""
    errors: dict[str, Any] = {}
    for ns in ("/presence", "/chat"):

        async def refused(data: Any, ns: str = ns) -> None:
            errors[ns] = data

        client.sio.on("connect_error", refused, namespace=ns)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect()
    return errors


@ON_SQLITE
async def test_a_user_s_connections_are_capped(server: Server) -> None:
    user = next_id()
    tabs = [await ready(server, "customer", user) for _ in range(20)]
    try:
        extra = Client(server.url, "customer", user)
        errors = await _connect_error(extra)
        assert errors.keys() == {"/presence", "/chat"}
        for error in errors.values():
            body = error["data"]  # socket.io's `err.data`
            assert body["error"] is True
            assert body["statusCode"] == 429
            assert "at most 20" in body["message"]
        # Another user is not affected, and a closed tab makes room.
        await (await ready(server, "customer")).close()
        await tabs.pop().close()
        await asyncio.sleep(0.2)
        tabs.append(await ready(server, "customer", user))
    finally:
        await asyncio.gather(*(t.close() for t in tabs))


@ON_SQLITE
async def test_a_full_process_refuses_new_connections_with_503(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_MAX_CONNECTIONS="2")
    first, second = await ready(srv, "customer"), await ready(srv, "vendor")
    try:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            polling = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert polling.status_code == 503, polling.text
        assert polling.json()["statusCode"] == 503
        with pytest.raises(InvalidStatus) as refused:
            await open_engineio(srv)
        assert refused.value.response.status_code == 503
        # The connected clients go on.
        assert (await first.call("getUserChats"))["error"] is False
    finally:
        await first.close()
    await asyncio.sleep(0.2)
    third = await ready(srv, "customer")
    await third.close()
    await second.close()


@ON_SQLITE
async def test_handshakes_per_address_are_limited(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_RATE_HANDSHAKES_PER_IP="3/m:3", SLYCHAT_CLIENT_IP_HEADER="X-Real-IP")
    handshake = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(base_url=srv.url) as http:

        async def attempt(address: str) -> httpx.Response:
            return await http.get("/socket.io/", params=handshake, headers={"X-Real-IP": address})

        assert [(await attempt("203.0.113.7")).status_code for _ in range(3)] == [200] * 3
        refused = await attempt("203.0.113.7")
        assert refused.status_code == 429, refused.text
        assert_rate_limited(refused.json())
        assert int(refused.headers["retry-after"]) >= 1
        assert (await attempt("198.51.100.9")).status_code == 200  # another client
        # Only the proxy's own (last) entry counts: a client cannot pick a fresh address.
        spoofed = await http.get(
            "/socket.io/", params=handshake, headers={"X-Real-IP": "10.9.9.9, 203.0.113.7"}
        )
        assert spoofed.status_code == 429


@ON_SQLITE
async def test_a_connection_without_a_namespace_is_closed_after_the_timeout(
    spawn_server: Spawn,
) -> None:
    srv = spawn_server(SLYCHAT_HANDSHAKE_TIMEOUT="0.5")
    idle = await open_engineio(srv)
    bad_token = await open_engineio(srv)
    await bad_token.send('40/presence,{"token":"not-a-token"}')
    client = await ready(srv, "customer")
    started = time.monotonic()

    async def closed_after(ws: Any) -> float:
        await until_closed(ws, 5)
        return time.monotonic() - started

    try:
        waited = await asyncio.gather(closed_after(idle), closed_after(bad_token))
        assert all(w < 3 for w in waited), waited
        # A client that opened its namespaces stays.
        await asyncio.sleep(0.6)
        assert client.sio.connected
        assert (await client.call("getUserChats"))["error"] is False
    finally:
        await client.close()


async def _gauge(server: Server, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = re.escape(name + (f"{{{wanted}}}" if labels else ""))
    found = re.search(rf"^{series} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name} {labels} in /metrics"
    return float(found.group(1))


@ON_SQLITE
async def test_a_connection_that_leaves_its_namespaces_still_counts_and_is_closed(
    spawn_server: Spawn,
) -> None:
    # The client opens /presence, sends the namespace DISCONNECT and keeps answering pings:
    # an engine.io connection that no namespace holds. It still counts for the user's cap,
    # the gauge shows it, and the handshake time limit closes it.
    srv = spawn_server(
        SLYCHAT_HANDSHAKE_TIMEOUT="2s",
        SLYCHAT_PING_INTERVAL="1s",
        SLYCHAT_PING_TIMEOUT="1s",
        SLYCHAT_MAX_CONNECTIONS_PER_USER="2",
    )
    user = next_id()
    async with asyncio.timeout(120):  # a hang here must fail this test, not stall the suite
        left = await open_engineio(srv)
        await open_namespace(left, "/presence", "customer", user)
        assert str(await left.recv()).startswith("40/presence,")
        await left.send("41/presence,")
        tab = await ready(srv, "customer", user)  # the user's second connection
        try:
            errors = await _connect_error(Client(srv.url, "customer", user))
            assert {e["data"]["statusCode"] for e in errors.values()} == {429}, errors
            assert await _gauge(srv, "slychat_open_sockets", namespace="/presence") == 1
            assert await _gauge(srv, "slychat_open_connections") >= 2
            started = time.monotonic()
            frames = await answer_pings_until_closed(left, 10)
            assert "2" in frames, frames  # it was pinged and answered: only the limit closed it
            assert time.monotonic() - started < 6
            # Gone, it no longer counts: the user may open another connection.
            await asyncio.sleep(0.3)
            again = await ready(srv, "customer", user)
            await again.close()
            assert (await tab.call("getUserChats"))["error"] is False
        finally:
            await tab.close()
            await left.close()


def _rss(server: Server) -> int:
    """The server process's resident memory, in bytes."""
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) * 1024


@ON_SQLITE  # the subject is the engine.io layer
async def test_oversize_long_polling_posts_are_refused_at_once_and_keep_nothing(
    spawn_server: Spawn,
) -> None:
    # A long-polling POST over the packet cap, on a fresh session, without a token: answered
    # at once (400), the session gone. Before the fix each POST hung, holding its session
    # and ~85 KB for good (+85 MB per 1,000), and SIGTERM took ~26 s.
    srv = spawn_server(SLYCHAT_HANDSHAKE_TIMEOUT="5m")  # plain handshakes' sessions stay
    path = "/socket.io/?EIO=4&transport=polling"
    oversize = b"4" + b"x" * 69_999  # 70,000 bytes; the cap is 64 KiB
    async with httpx.AsyncClient(base_url=srv.url, timeout=5) as http:

        async def handshake() -> str:
            opened = await http.get(path)
            assert opened.status_code == 200, opened.text
            return str(orjson.loads(opened.content[1:])["sid"])

        async def oversize_post() -> None:
            sid = await handshake()
            refused = await http.post(f"{path}&sid={sid}", content=oversize)
            assert refused.status_code in (400, 413), refused.text
            assert (await http.get(f"{path}&sid={sid}")).status_code == 400  # gone

        async def times(n: int, work: Callable[[], Any]) -> None:
            for _ in range(n // 20):
                await asyncio.gather(*(work() for _ in range(20)))

        # 500 of each: the leak this guards against (85 KB a POST) would be 42 MB.
        await times(500, oversize_post)  # the allocator's heap grown to its working size
        before = _rss(srv)
        await times(500, oversize_post)
        posts = _rss(srv) - before
        await times(500, handshake)
        handshakes = _rss(srv) - before - posts
    print(f"\nRSS growth: 500 oversize POSTs {posts >> 10} KiB, handshakes {handshakes >> 10} KiB")
    # Nothing of the refused sessions is kept: the process holds the handshakes' only.
    assert await _gauge(srv, "slychat_open_connections") == 500
    # RSS never shrinks and the heap keeps some slack: the bound has room for it, and none
    # for 85 KB per POST.
    assert posts < handshakes + 24 * 1024 * 1024, (handshakes, posts)
    # And the process still stops at once.
    assert srv.proc is not None
    began = time.monotonic()
    srv.proc.terminate()
    assert await asyncio.to_thread(srv.proc.wait, 15) == 0
    assert time.monotonic() - began < 5


@ON_SQLITE
async def test_an_oversize_packet_closes_that_client_only(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_MAX_PACKET_BYTES="16KiB")
    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    bystander = await ready(srv, "customer")
    product = {"productId": f"p-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    try:
        await customer.emit("sendMessage", product | {"text": "x" * 20_000})
        for _ in range(100):
            if not customer.sio.connected:
                break
            await asyncio.sleep(0.05)
        assert not customer.sio.connected
        assert await stored_texts(srv, customer.id, vendor.id) == []
        ack = await bystander.call("sendMessage", product | {"text": "y" * 4000})
        assert ack["error"] is False
        await vendor.wait("newChat")
    finally:
        for c in (vendor, customer, bystander):
            await c.close()


@ON_SQLITE
async def test_a_reader_too_slow_is_disconnected_and_others_are_not(
    spawn_server: Spawn,
) -> None:
    srv = spawn_server(
        SLYCHAT_MAX_QUEUED_EVENTS="10",
        SLYCHAT_MAX_PACKET_BYTES="1MiB",
        SLYCHAT_MAX_TEXT_LENGTH="200000",
        SLYCHAT_CHAT_STARTERS="customer,vendor",
    )
    slow_id = next_id()
    slow = await open_engineio(srv, receive_buffer=4096, max_queue=1)
    await open_namespace(slow, "/presence", "customer", slow_id)
    await open_namespace(slow, "/chat", "customer", slow_id)
    vendor, other = await ready(srv, "vendor"), await ready(srv, "customer")
    to_slow = {"productId": f"p-{next_id()}", "recipientId": slow_id} | new_chat_fields()
    to_vendor = {"productId": f"p-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    big = "z" * 150_000
    try:
        assert (await other.call("sendMessage", to_vendor | {"text": "hi"}))["error"] is False
        await asyncio.sleep(0.5)  # the slow client's handshakes are done: it stops reading
        dropped = False
        for i in range(200):
            ack = await vendor.call("sendMessage", to_slow | {"text": f"{i} {big}"})
            assert ack["error"] is False, ack
            status = await vendor.call(
                "checkOnlinePresence", {"userId": slow_id, "userType": "CUSTOMER"}, "/presence"
            )
            if status["data"]["status"] == "offline":
                dropped = True
                print(f"\nslow reader disconnected after {i + 1} messages of 150 KB")
                break
            # Another customer's chat with the same vendor is not held up.
            text = f"still here {i}"
            assert (await other.call("sendMessage", to_vendor | {"text": text}))["error"] is False
            await vendor.wait("receiveMessage", text_is(text))
        assert dropped, "the slow reader was never disconnected"
        await until_closed(slow)  # its connection is gone, not only its namespaces
    finally:
        await slow.close()
        for c in (vendor, other):
            await c.close()


@ON_POSTGRES  # nodes share it
async def test_limits_and_caps_are_shared_by_every_node_through_redis(
    spawn_server: Spawn, redis_url: str, redis_prefix: str
) -> None:
    env = {
        "SLYCHAT_REDIS_URL": redis_url,
        "SLYCHAT_REDIS_PREFIX": redis_prefix,
        "SLYCHAT_RATE_MESSAGES": "3/m:3",
        "SLYCHAT_MAX_CONNECTIONS_PER_USER": "2",
    }
    a, b = spawn_server(**env), spawn_server(**env)
    vendor = await ready(a, "vendor")
    on_a = await ready(a, "customer")
    on_b = await ready(b, "customer", on_a.id)
    to_vendor = {"productId": f"p-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    try:
        assert (await on_a.call("sendMessage", to_vendor | {"text": "a1"}))["error"] is False
        assert (await on_b.call("sendMessage", to_vendor | {"text": "b1"}))["error"] is False
        assert (await on_a.call("sendMessage", to_vendor | {"text": "a2"}))["error"] is False
        assert_rate_limited(await on_b.call("sendMessage", to_vendor | {"text": "b2"}))
        assert_rate_limited(await on_a.call("sendMessage", to_vendor | {"text": "a3"}))
        assert await stored_texts(a, on_a.id, vendor.id) == ["a1", "b1", "a2"]

        # Two connections of the user, one per node: a third is refused on either.
        errors = await _connect_error(Client(a.url, "customer", on_a.id))
        assert {e["data"]["statusCode"] for e in errors.values()} == {429}
    finally:
        for c in (vendor, on_a, on_b):
            await c.close()
