"""Hostile tokens and handshakes against real servers: the token policy (issuer, audience,
expiry, lifetime), the default namespace, tokens too large to read, handshakes that leave
nothing behind (with Redis, even when the client drops mid-handshake), tokens that expire
or are revoked while their sockets are open, on every node.

(The refusal of each kind of bad token on both namespaces is in test_auth.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis

from tests.e2e.test_auth import handmade
from tests.support import ON_SQLITE, ROOT, Client, RawClient, Server, next_id, token
from tests.support.chat import presence_of

# `ON_SQLITE`: the subject is token checks and sockets, not storage; what is stored (a
# revocation's window) runs on both engines.

BOTH = ("/presence", "/chat")
PROMPT = 5.0  # a refusal comes at once on loopback; a hang fails within this


async def polling_handshake(
    url: str, ns: str, auth: Any, query: str = "", sids: set[str] | None = None
) -> Any:
    """A namespace CONNECT over engine.io long-polling, by hand (python-engineio's client
    takes a long-poll timeout to leave a polling session): the server's answer packet,
    as (packet type, data). The session ids it met are added to `sids`."""
    base = f"{url}/socket.io/?EIO=4&transport=polling{query}"
    timeout = aiohttp.ClientTimeout(total=PROMPT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(base) as opened:
            sid = json.loads((await opened.text())[1:])["sid"]
        body = f"40{ns}," + json.dumps(auth) if auth is not None else f"40{ns},"
        async with http.post(f"{base}&sid={sid}", data=body) as sent:
            assert sent.status == 200
        async with http.get(f"{base}&sid={sid}") as answer:
            text = await answer.text()
        async with http.post(f"{base}&sid={sid}", data="1"):
            pass
    first = text.split("\x1e")[0]
    assert first.startswith(f"4{'0' if first[1] == '0' else '4'}{ns},"), text[:200]
    kind, data = first[1], json.loads(first[len(ns) + 3 :])
    if sids is not None:
        sids.add(sid)
        if kind == "0":
            sids.add(data["sid"])
    return kind, data


async def polling_refused_401(url: str, ns: str, auth: Any, message: str | None = None) -> None:
    kind, data = await polling_handshake(url, ns, auth)
    assert kind == "4", data  # CONNECT_ERROR
    assert data["data"]["statusCode"] == 401, data
    assert data["data"]["error"] is True
    if message is not None:
        assert data["data"]["message"] == message, data


def refused_401(s: RawClient, ns: str, message: str | None = None) -> None:
    assert s.errors[ns], f"no connect_error on {ns}"
    data = s.errors[ns][0]["data"]
    assert data["error"] is True
    assert data["statusCode"] == 401, data
    if message is not None:
        assert data["message"] == message, data


def metrics(srv: Server) -> dict[str, int]:
    """`slychat_open_sockets` per namespace."""
    with urllib.request.urlopen(f"{srv.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'slychat_open_sockets\{namespace="([^"]+)"\} (\d+)', text)
    return {ns: int(n) for ns, n in found}


async def no_sockets_left(srv: Server, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (open_sockets := await asyncio.to_thread(metrics, srv)) != {"/presence": 0, "/chat": 0}:
        assert time.monotonic() < deadline, f"sockets left behind: {open_sockets}"
        await asyncio.sleep(0.05)


async def status_of(srv: Server, user_id: int) -> str:
    """What another user learns from checkOnlinePresence about VENDOR `user_id`."""
    asker = await Client(srv.url, "customer", next_id()).connect(("/presence",))
    try:
        ack = await presence_of(asker, user_id, "VENDOR")
    finally:
        await asker.close()
    assert ack["error"] is False, ack
    return str(ack["data"]["status"])


# --- the token policy ---------------------------------------------------------------------------


@ON_SQLITE
async def test_issuer_and_audience_are_checked_when_configured(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    srv = spawn_server(SLYCHAT_JWT_ISSUER="https://shop.example", SLYCHAT_JWT_AUDIENCE="slychat")
    good: dict[str, Any] = {"iss": "https://shop.example", "aud": "slychat"}
    s = raw_client()
    assert await s.connect(srv.url, BOTH, {"token": token("vendor", next_id(), **good)})
    await s.wait("offlineMessages", "/chat")

    for claims, message in [
        (good | {"iss": "https://evil.example"}, "Token issuer is not accepted"),
        (good | {"aud": "another-service"}, "Token audience is not accepted"),
        ({"aud": "slychat"}, "Token has no 'iss' claim"),
        ({"iss": "https://shop.example"}, "Token has no 'aud' claim"),
    ]:
        for ns in BOTH:
            bad = raw_client()
            assert not await bad.connect(srv.url, (ns,), {"token": token("vendor", 1, **claims)})
            refused_401(bad, ns, message)
    await s.close()
    await no_sockets_left(srv)


@ON_SQLITE
async def test_tokens_without_exp_are_accepted_only_when_allowed(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    user_id = next_id()
    no_exp = handmade({"data": {"id": user_id}, "types": ["vendor"]}, "HS256")
    s = raw_client()
    assert not await s.connect(server.url, ("/presence",), {"token": no_exp})
    refused_401(s, "/presence", "Token has no 'exp' claim")

    lenient = spawn_server(SLYCHAT_JWT_REQUIRE_EXP="false")
    ok = raw_client()
    assert await ok.connect(lenient.url, BOTH, {"token": no_exp})
    assert (await ok.wait("userIsOnline", "/presence"))["data"]["userId"] == user_id


@ON_SQLITE
async def test_the_lifetime_limit_is_configurable(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    srv = spawn_server(SLYCHAT_JWT_MAX_LIFETIME="1h")
    s = raw_client()
    assert await s.connect(srv.url, ("/presence",), {"token": token("vendor", next_id())})
    day = raw_client()
    assert not await day.connect(srv.url, ("/presence",), {"token": token("vendor", 1, ttl=86400)})
    refused_401(day, "/presence", "Token lifetime is longer than this server accepts")


# --- handshakes that are not for us -----------------------------------------------------------


@ON_SQLITE
async def test_the_default_namespace_is_refused(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    s = raw_client()
    assert not await s.connect(server.url, ("/",), {"token": token("customer", next_id())})
    data = s.errors["/"][0]["data"]
    assert data["error"] is True
    assert data["statusCode"] == 404
    assert "/presence" in data["message"]


@ON_SQLITE
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_tokens_too_large_to_read_are_refused_at_once(
    server: Server, raw_client: Callable[[], RawClient], transport: str
) -> None:
    """Up to the packet cap (64 KiB) a long token gets `connect_error` 401; past it, or
    past 8 KiB in a websocket's URL, the request is refused before it is read."""
    huge = "e" * 100_000
    long_token = "e" * 20_000
    for ns in BOTH:
        if transport == "websocket":
            s = raw_client()
            assert not await s.connect(server.url, (ns,), {"token": long_token})
            refused_401(s, ns, "Token is too long")
        else:
            await polling_refused_401(server.url, ns, {"token": long_token}, "Token is too long")
            # under the HTTP parser's limit, in the query: read, and refused
            kind, data = await polling_handshake(server.url, ns, None, f"&token={long_token}")
            assert (kind, data["data"]["message"]) == ("4", "Token is too long")

    async with aiohttp.ClientSession() as http:
        path = f"{server.url}/socket.io/?EIO=4&transport={transport}&token={huge}"
        started = time.monotonic()
        if transport == "websocket":
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(path, timeout=aiohttp.ClientWSTimeout(ws_receive=PROMPT))
            assert refused.value.status == 414
        else:
            async with http.get(path, timeout=aiohttp.ClientTimeout(total=PROMPT)) as answer:
                assert answer.status == 400
        assert time.monotonic() - started < PROMPT

        # a CONNECT packet over the packet cap closes the connection as it arrives
        started = time.monotonic()
        async with http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket") as ws:
            await ws.receive()  # engine.io's open packet
            await ws.send_str("40/presence," + json.dumps({"token": huge}))
            async with asyncio.timeout(PROMPT):
                closing = await ws.receive()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert time.monotonic() - started < PROMPT


@ON_SQLITE
async def test_refused_handshakes_leave_nothing_behind(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    srv = spawn_server()
    user_id = next_id()
    expired = token("vendor", user_id, ttl=-120)
    hostile: list[Any] = [
        {"token": expired},
        {"token": handmade({"data": {"id": user_id}, "types": ["vendor"]}, "none")},
        {"token": [expired]},
        {"token": {"nested": [expired]}},
        [expired],
        "a string",
        {"token": "\x00\xff" * 100},
    ]
    for auth in hostile:
        s = raw_client()
        assert not await s.connect(srv.url, BOTH, auth)
        for ns in BOTH:
            refused_401(s, ns)
            await polling_refused_401(srv.url, ns, auth)
        await s.close()
    admin = raw_client()
    assert not await admin.connect(srv.url, ("/chat",), {"token": token("admin", user_id)})
    await no_sockets_left(srv)
    assert await status_of(srv, user_id) == "offline"


# --- a client that drops while /presence counts it in Redis ------------------------------------


class RedisRelay:
    """A TCP relay in front of Redis that can hold what the server sends it, so that a
    test catches the server in the middle of a Redis call (here: counting a /presence
    connection) and does something meanwhile."""

    def __init__(self, host: str, port: int, db: int) -> None:
        self.target = (host, port)
        self.db = db
        self.held = b""  # what the server sent while holding
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def hold(self) -> None:
        self.held = b""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        for task in (
            asyncio.ensure_future(self._pump(client_r, upstream_w, outbound=True)),
            asyncio.ensure_future(self._pump(upstream_r, client_w, outbound=False)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if outbound and not self._open.is_set():
                    self.held += data
                    await self._open.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[RedisRelay]:
    # redis-py leaves parse_url unannotated.
    url = redis.connection.parse_url(redis_url)  # type: ignore[no-untyped-call]
    r = RedisRelay(url.get("host", "127.0.0.1"), int(url.get("port", 6379)), url.get("db", 0))
    yield r
    r.release()
    await r.close()


# Time for a packet sent on loopback to reach the server's connect handler, many times over:
# while Redis is held, that handler cannot finish whatever the wait.
REACHED = 0.5


async def _drop_mid_handshake_polling(srv: Server, auth: str, relay: RedisRelay) -> None:
    """Engine.io over long-polling by hand: CONNECT /presence, and while the server counts
    the connection in Redis, a second request closes the engine.io session."""
    base = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(base) as opened:
            sid = json.loads((await opened.text())[1:])["sid"]
        relay.hold()
        connect = asyncio.ensure_future(http.post(f"{base}&sid={sid}", data=f"40/presence,{auth}"))
        await asyncio.sleep(REACHED)
        assert not connect.done()  # the handler waits for Redis
        async with http.post(f"{base}&sid={sid}", data="1") as closed:
            assert closed.status == 200
        relay.release()
        (await connect).release()


async def _drop_mid_handshake_websocket(srv: Server, auth: str, relay: RedisRelay) -> None:
    """A websocket that sends CONNECT /presence and goes away while the server counts it."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{srv.url}/socket.io/?EIO=4&transport=websocket")
        await ws.receive()
        relay.hold()
        await ws.send_str(f"40/presence,{auth}")
        await asyncio.sleep(REACHED)
        await ws.close()
        relay.release()


@ON_SQLITE
@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_a_client_that_drops_mid_handshake_is_not_left_online(
    spawn_server: Callable[..., Server],
    relay: RedisRelay,
    redis_url: str,
    redis_prefix: str,
    raw_client: Callable[[], RawClient],
    transport: str,
) -> None:
    port = await relay.start()
    # (in a thread: the relay runs on this loop, and the server talks to Redis as it starts)
    srv = await asyncio.to_thread(
        spawn_server,
        SLYCHAT_REDIS_URL=f"redis://127.0.0.1:{port}/{relay.db}",
        SLYCHAT_REDIS_PREFIX=redis_prefix,
        SLYCHAT_PRESENCE_TTL="60s",  # no sweep of dead nodes during the test
        # The handler must still be waiting on the held Redis when the client goes away
        # (the second request of long-polling, the websocket's close), not given up on it.
        SLYCHAT_REDIS_TIMEOUT="5s",
    )
    user_id = next_id()
    auth = json.dumps({"token": token("vendor", user_id)})
    drop = _drop_mid_handshake_polling if transport == "polling" else _drop_mid_handshake_websocket
    await drop(srv, auth, relay)

    await no_sockets_left(srv)
    # The session goes first; the disconnect's own Redis write follows it.
    store = redis.Redis.from_url(redis_url)
    try:
        key = f"{redis_prefix}:conn:presence:VENDOR:{user_id}"
        for _ in range(100):
            if store.hlen(key) == 0:
                break
            await asyncio.sleep(0.05)
        assert store.hlen(key) == 0
    finally:
        store.close()
    assert await status_of(srv, user_id) == "offline"
    # and the node is fine: the same user connects for real
    s = raw_client()
    assert await s.connect(srv.url, BOTH, {"token": token("vendor", user_id)})
    await s.wait("offlineMessages", "/chat")
    assert await status_of(srv, user_id) == "online"
    await s.close()
    await asyncio.to_thread(srv.stop)  # while the relay still serves its goodbyes


# --- tokens on live sockets ------------------------------------------------------------------


@ON_SQLITE
async def test_a_token_that_expires_while_connected_is_refused_and_the_socket_closed(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    """The next event after expiry (plus the 30 s leeway) gets appError 401, and the socket
    is disconnected right after it."""
    srv = spawn_server(SLYCHAT_REVOCATION_POLL="1h")  # no sweep: the event path alone
    left = 4
    user_id = next_id()
    s = raw_client()
    assert await s.connect(srv.url, BOTH, {"token": token("vendor", user_id, ttl=left - 30)})
    await s.wait("offlineMessages", "/chat")
    ack = await s.sio.call("getUserChats", namespace="/chat", timeout=10)
    assert ack["error"] is False

    await asyncio.sleep(left + 0.5)
    ack = await s.sio.call("getUserChats", namespace="/chat", timeout=10)
    assert ack == {"error": True, "message": "Token has expired", "statusCode": 401}
    assert s.app_errors("/chat") == [ack]
    await s.wait_dropped("/chat", PROMPT)

    presence = await s.sio.call(
        "checkOnlinePresence", {"userId": 1, "userType": "VENDOR"}, namespace="/presence"
    )
    assert presence["statusCode"] == 401
    await s.wait_dropped("/presence", PROMPT)
    await no_sockets_left(srv)


@ON_SQLITE
async def test_idle_sockets_are_closed_when_their_token_expires(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    srv = spawn_server(SLYCHAT_REVOCATION_POLL="0.5")
    s = raw_client()
    assert await s.connect(srv.url, BOTH, {"token": token("customer", next_id(), ttl=-27)})
    await s.wait("offlineMessages", "/chat")
    for ns in BOTH:
        await s.wait_dropped(ns, 3 + 0.5 + PROMPT)
        assert s.app_errors(ns)[-1]["message"] == "Token has expired"
    await no_sockets_left(srv)


def revoke(srv: Server, jti: str) -> None:
    """`slychat revoke <jti>` against the server's database, as an operator runs it."""
    subprocess.run(
        [sys.executable, "-m", "slychat", "revoke", jti],
        env=srv.environment(),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


async def test_a_revoked_token_is_refused_everywhere_on_every_node(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    poll = 0.5
    nodes = [spawn_server(SLYCHAT_REVOCATION_POLL=f"{poll}s") for _ in range(2)]
    user_id = next_id()
    jti = f"jti-{secrets.token_hex(8)}"
    revoked = token("customer", user_id, jti=jti)
    other = token("customer", user_id, jti=f"jti-{secrets.token_hex(8)}")
    on_node: list[RawClient] = []
    for node in nodes:
        s = raw_client()
        assert await s.connect(node.url, BOTH, {"token": revoked})
        await s.wait("offlineMessages", "/chat")
        on_node.append(s)
    bystander = raw_client()
    assert await bystander.connect(nodes[0].url, BOTH, {"token": other})
    await bystander.wait("offlineMessages", "/chat")

    started = time.monotonic()
    await asyncio.to_thread(revoke, nodes[0], jti)
    for s in on_node:
        for ns in BOTH:
            await s.wait_dropped(ns, poll + PROMPT)
            assert s.app_errors(ns)[-1] == {
                "error": True,
                "message": "Token has been revoked",
                "statusCode": 401,
            }
    assert time.monotonic() - started < poll + PROMPT

    for node in nodes:  # at connect
        for ns in BOTH:
            again = raw_client()
            assert not await again.connect(node.url, (ns,), {"token": revoked})
            refused_401(again, ns, "Token has been revoked")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{nodes[1].url}/api/v1/chat/send-image",
            headers={"Authorization": f"Bearer {revoked}"},
            data={"productId": "p", "recipientId": "1"},
        ) as upload,
    ):
        assert upload.status == 401
        assert (await upload.json())["message"] == "Token has been revoked"

    # another token of the same user is untouched
    ack = await bystander.sio.call("getUserChats", namespace="/chat", timeout=10)
    assert ack["error"] is False
    assert not bystander.dropped["/chat"]
