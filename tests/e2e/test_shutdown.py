"""Graceful shutdown: on SIGTERM a node finishes the events in flight, sends its clients
away to reconnect elsewhere, and exits 0 within SLYCHAT_SHUTDOWN_TIMEOUT; a rolling
restart of two nodes under load loses no acked message (tests/e2e/roaming.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy.engine import make_url

from tests.dbcheck import query
from tests.e2e.roaming import Pair, Roamer, check_delivery, check_storage
from tests.e2e.test_js_client import JS_DIR, node  # noqa: F401  (fixture)
from tests.support import (
    CALL_TIMEOUT,
    ON_SQLITE,
    Client,
    Server,
    new_chat_fields,
    next_id,
    token,
)

TIMEOUT = 8.0  # SLYCHAT_SHUTDOWN_TIMEOUT of the nodes here
DRAINING = {"SLYCHAT_SHUTDOWN_TIMEOUT": f"{TIMEOUT:g}s", "SLYCHAT_LOG_LEVEL": "info"}


async def terminate(srv: Server) -> tuple[int, float]:
    """SIGTERM, as a service manager sends it; the exit status and how long it took."""
    assert srv.proc is not None
    began = time.monotonic()
    srv.proc.terminate()
    try:
        code = await asyncio.to_thread(srv.proc.wait, TIMEOUT + 2)
    except Exception:
        srv.kill()
        raise AssertionError(f"the node did not exit within {TIMEOUT + 2:g}s") from None
    return code, time.monotonic() - began


@contextlib.asynccontextmanager
async def writes_held(database_url: str, chat_id: str) -> AsyncIterator[None]:
    """Hold what a message into `chat_id` must lock, so that its send stays in flight: the
    chat's row on PostgreSQL, the database's write lock on SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    import asyncpg

    pg = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        async with pg.transaction():
            await pg.execute("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", chat_id)
            yield
    finally:
        await pg.close()


async def first_message(client: Client, vendor: int) -> dict[str, Any]:
    ack: dict[str, Any] = await client.call(
        "sendMessage",
        {"productId": f"p-{client.id}", "recipientId": vendor, "text": "hello"} | new_chat_fields(),
    )
    assert ack["error"] is False, ack
    return ack


async def test_sigterm_finishes_in_flight_events_then_exits_0(
    server: Server, spawn_server: Callable[..., Server]
) -> None:
    srv = spawn_server(**DRAINING)
    slow_sender = await Client(srv.url, "customer", next_id()).connect()
    await slow_sender.ready()
    streamer = await Client(srv.url, "customer", next_id()).connect()
    await streamer.ready()
    vendor = next_id()
    chat_id = (await first_message(slow_sender, vendor))["data"]["chatId"]
    await first_message(streamer, vendor)
    reasons: list[Any] = []
    slow_sender.sio.on("disconnect", lambda *why: reasons.append(why), namespace="/chat")

    acked: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []

    async def stream() -> None:
        """Acked sends one after the other, until the node turns them away."""
        for n in range(10_000):
            payload = {"productId": f"p-{streamer.id}", "recipientId": vendor, "text": f"{n}"}
            try:
                ack = await streamer.call("sendMessage", payload | {"clientMessageId": f"s{n}"})
            except Exception:  # the connection went away mid-call
                return
            if ack["error"]:
                refused.append(ack)
                return
            acked.append(ack["data"])

    streaming = asyncio.create_task(stream())
    await asyncio.sleep(0.3)
    async with writes_held(server.database_url, chat_id):
        slow = asyncio.create_task(
            slow_sender.call(
                "sendMessage",
                {"productId": f"p-{slow_sender.id}", "recipientId": vendor, "text": "slow"}
                | {"clientMessageId": "slow"},
            )
        )
        await asyncio.sleep(0.3)  # the send waits for the lock: in flight
        assert srv.proc is not None
        began = time.monotonic()
        srv.proc.terminate()
        await asyncio.sleep(1.0)  # draining, waiting for the send
        assert srv.proc.poll() is None, "the node left before its event in flight ended"
    async with asyncio.timeout(TIMEOUT):
        ack = await slow
    code = await asyncio.to_thread(srv.proc.wait, TIMEOUT + 2)
    took = time.monotonic() - began
    # A send made as the node closed its sessions is never answered, and python-socketio's
    # client keeps a call waiting for its ack after a disconnect: `stream` then returns once
    # that call's own time is up.
    async with asyncio.timeout(CALL_TIMEOUT + 2):
        await streaming

    log = (srv.log_path or Path()).read_text()
    assert code == 0, log[-3000:]
    assert took < TIMEOUT, took
    assert ack["error"] is False, ack
    assert ack["data"]["clientMessageId"] == "slow", ack
    assert acked, "the stream was acked before the shutdown"
    assert all(r["statusCode"] == 503 for r in refused), refused
    assert re.search(r"drain: [1-9]\d* events and requests in flight finished", log), log[-3000:]
    assert "sessions closed" in log

    stored = await query(
        server.database_url,
        "SELECT client_message_id, id, chat_id FROM messages WHERE sender_id IN (:a, :b)",
        a=slow_sender.id,
        b=streamer.id,
    )
    by_client_id: dict[str | None, list[str]] = {}
    for row in stored:
        by_client_id.setdefault(row.client_message_id, []).append(row.id)
    assert by_client_id["slow"] == [ack["data"]["id"]]
    for message in acked:
        assert by_client_id[message["clientMessageId"]] == [message["id"]]
    # Sent away by closing the transport, never a Socket.IO DISCONNECT ("server disconnect"
    # would tell the official client not to reconnect).
    for _ in range(50):
        if reasons:
            break
        await asyncio.sleep(0.05)
    assert reasons, "the client was sent away"
    assert reasons[0] != (socketio.AsyncClient.reason.SERVER_DISCONNECT,), reasons
    await slow_sender.close()
    await streamer.close()


@ON_SQLITE
async def test_a_drained_python_client_reconnects_to_the_replacement(
    server: Server, log_dir: Path
) -> None:
    first = Server(server.database_url, env=DRAINING).start(log_dir)
    replacement = Server(server.database_url, env=DRAINING, port=first.port)
    user, vendor = next_id(), next_id()
    sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2)
    connected = asyncio.Event()
    sio.on("connect", lambda: connected.set(), namespace="/chat")
    try:
        await sio.connect(
            first.url,
            namespaces=["/presence", "/chat"],
            auth={"token": token("customer", user)},
            transports=["websocket"],
            wait_timeout=10,
        )
        async with asyncio.timeout(10):
            await connected.wait()
        connected.clear()
        code, _took = await terminate(first)
        assert code == 0
        replacement.start(log_dir)
        async with asyncio.timeout(15):
            await connected.wait()  # by itself
        ack = await sio.call(
            "sendMessage",
            {"productId": f"p-{user}", "recipientId": vendor, "text": "back"} | new_chat_fields(),
            namespace="/chat",
            timeout=10,
        )
        assert ack["error"] is False, ack
    finally:
        await sio.disconnect()
        first.stop()
        replacement.stop()


@ON_SQLITE
@pytest.mark.node
@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_the_official_js_client_reconnects_by_itself(
    node: str,  # noqa: F811
    server: Server,
    log_dir: Path,
    transports: str,
) -> None:
    first = Server(server.database_url, env=DRAINING).start(log_dir)
    replacement = Server(server.database_url, env=DRAINING, port=first.port)
    customer, vendor = next_id(), next_id()
    env = os.environ | {
        "SLYCHAT_URL": first.url,
        "CUSTOMER_ID": str(customer),
        "CUSTOMER_TOKEN": token("customer", customer),
        "VENDOR_ID": str(vendor),
        "TRANSPORTS": transports,
    }
    script = await asyncio.create_subprocess_exec(
        node,
        str(JS_DIR / "reconnect.js"),
        cwd=JS_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[dict[str, Any]] = []

    async def next_line() -> dict[str, Any]:
        assert script.stdout is not None
        async with asyncio.timeout(30):
            raw = await script.stdout.readline()
        assert raw, f"the script ended; it said {lines}"
        lines.append(json.loads(raw))
        return lines[-1]

    try:
        assert await next_line() == {"event": "connect", "n": 1}
        code, _took = await terminate(first)
        assert code == 0
        replacement.start(log_dir)
        while (line := await next_line())["event"] != "ack":
            assert line["event"] in ("disconnect", "connect"), lines
        async with asyncio.timeout(10):
            assert await script.wait() == 0, lines
        assert line["ack"]["error"] is False, lines
        # Never "io server disconnect" (the client would stay away). Over long-polling, a
        # client between two polls when the node stopped listening finds its next GET
        # refused (a new TCP connection: the Node transport keeps none alive): a transport
        # error with no HTTP status, which reconnects as a close does. A GET answered
        # with an HTTP error (the session closed before its CLOSE packet left) would fail.
        for d in lines:
            if d["event"] != "disconnect" or d["reason"] == "transport close":
                continue
            assert transports == "polling", lines
            assert d["reason"] == "transport error", lines
            assert (d.get("details") or {}).get("status") in (None, 0), lines
    finally:
        if script.returncode is None:
            script.kill()
            await script.wait()
        first.stop()
        replacement.stop()


async def test_a_rolling_restart_under_load_loses_no_acked_message(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> None:
    env = DRAINING | {
        "SLYCHAT_REDIS_URL": redis_url,
        "SLYCHAT_REDIS_PREFIX": redis_prefix,
        "SLYCHAT_TRANSPORTS": "websocket",
        "SLYCHAT_PRESENCE_TTL": "3s",
    }
    a = Server(server.database_url, env=env).start(log_dir)
    b = Server(server.database_url, env=env).start(log_dir)
    a2 = Server(server.database_url, env=env, port=a.port)
    urls = [a.url, b.url]
    pairs = [Pair(next_id(), next_id()) for _ in range(8)]
    roamers = [
        Roamer(urls, role, user_id, start=(i + side) % 2)
        for i, pair in enumerate(pairs)
        for side, (role, user_id) in enumerate(
            (("customer", pair.customer), ("vendor", pair.vendor))
        )
    ]
    try:
        await asyncio.gather(*(r.start() for r in roamers))
        load = asyncio.gather(
            *(r.send_stream(pair, count=60, every=0.08) for r, pair in _senders(roamers, pairs))
        )
        await asyncio.sleep(1.5)
        code, took = await terminate(a)
        assert (code, took < TIMEOUT) == (0, True), took
        a2.start(log_dir)
        await asyncio.sleep(1.0)
        code, took = await terminate(b)
        assert (code, took < TIMEOUT) == (0, True), took
        async with asyncio.timeout(60):
            await load
        for roamer in roamers:
            await roamer.catch_up()
        await check_storage(server.database_url, pairs, roamers)
        check_delivery(pairs, roamers)
        assert sum(r.reconnects for r in roamers) >= len(roamers), "every client moved"
    finally:
        await asyncio.gather(*(r.close() for r in roamers))
        for srv in (a, b, a2):
            srv.stop()


def _senders(roamers: list[Roamer], pairs: list[Pair]) -> list[tuple[Roamer, Pair]]:
    return [(r, pairs[i // 2]) for i, r in enumerate(roamers)]


@ON_SQLITE
async def test_sigterm_to_the_supervisor_drains_every_worker(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> None:
    env = DRAINING | {"SLYCHAT_REDIS_URL": redis_url, "SLYCHAT_REDIS_PREFIX": redis_prefix}
    supervisor = Server(server.database_url, env=env, args=["--workers", "2"]).start(log_dir)
    clients = [Client(supervisor.url, "customer", next_id()) for _ in range(6)]
    lost: list[Any] = []
    try:
        for client in clients:
            client.sio.on("disconnect", lambda *why: lost.append(why), namespace="/chat")
            await (await client.connect()).ready()
        code, took = await terminate(supervisor)
        log = (supervisor.log_path or Path()).read_text()
        assert (code, took < TIMEOUT) == (0, True), log[-3000:]
        assert log.count("sessions closed") == 2, log[-3000:]  # one drain per worker
        for _ in range(50):
            if len(lost) == len(clients):
                break
            await asyncio.sleep(0.05)
        assert len(lost) == len(clients)
    finally:
        for client in clients:
            await client.close()
        supervisor.stop()


@ON_SQLITE
async def test_a_drain_that_cannot_finish_still_ends_at_the_timeout(
    server: Server, spawn_server: Callable[..., Server]
) -> None:
    srv = spawn_server(SLYCHAT_SHUTDOWN_TIMEOUT="3s", SLYCHAT_LOG_LEVEL="info")
    customer = await Client(srv.url, "customer", next_id()).connect()
    await customer.ready()
    vendor = next_id()
    chat_id = (await first_message(customer, vendor))["data"]["chatId"]
    async with writes_held(server.database_url, chat_id):  # longer than the timeout
        stuck = asyncio.create_task(
            customer.call(
                "sendMessage",
                {"productId": f"p-{customer.id}", "recipientId": vendor, "text": "stuck"},
                timeout=20,
            )
        )
        await asyncio.sleep(0.3)
        assert srv.proc is not None
        began = time.monotonic()
        srv.proc.terminate()
        code = await asyncio.to_thread(srv.proc.wait, 10)
        took = time.monotonic() - began
    stuck.cancel()
    log = (srv.log_path or Path()).read_text()
    assert took < 3.5, log[-3000:]
    assert "still in flight" in log, log[-3000:]
    # Storage could not be closed (the database stayed locked): the watchdog's status.
    assert code == 1, log[-3000:]
    assert "the shutdown took longer than 3.0s" in log
    await customer.close()


async def test_a_closed_polling_session_answers_its_pending_poll_and_stops_promptly(
    server: Server, spawn_server: Callable[..., Server]
) -> None:
    # A long-polling client closes with a CLOSE packet in a POST while its GET is pending.
    # Unanswered, that GET held the client's disconnect for its own timeout (30 s) and the
    # process's SIGTERM for the engine.io poll timeout (45 s): uvicorn waits for it.
    srv = spawn_server(**DRAINING)
    client = await Client(srv.url, "customer", next_id()).connect(transports=["polling"])
    await client.ready()
    await asyncio.sleep(0.3)  # the client's next GET is pending on the server
    began = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await client.sio.disconnect()
    closed_in = time.monotonic() - began
    code, took = await terminate(srv)
    log = (srv.log_path or Path()).read_text()
    assert closed_in < 2, f"the client's close took {closed_in:.1f}s"
    assert "drain: 0 sessions closed" in log, log[-3000:]
    assert "Waiting for background tasks" not in log, log[-3000:]
    assert code == 0, log[-3000:]
    assert took < 2, log[-3000:]
