"""The drain before a shutdown: work in flight is waited for (within the deadline), and
every engine.io session is sent away the way that makes clients reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import packet
from engineio.async_socket import AsyncSocket
from starlette.types import Message

from slychat.process import lifecycle
from slychat.server.drain import TrackRequests, Work, drain
from slychat.server.engine import EngineServer, WebsocketSocket
from tests.server.test_engine import FakeWebsocket


def _deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_work_in_flight_is_waited_for_until_the_deadline() -> None:
    work = Work()
    assert await work.finished(_deadline(0))
    work.begin()
    assert not await work.finished(_deadline(0.05))
    asyncio.get_running_loop().call_later(0.05, work.end)
    assert await work.finished(_deadline(5))


async def test_a_websocket_gets_what_was_queued_then_closes_without_a_close_packet() -> None:
    server = EngineServer(async_mode="asgi")
    gone: list[Any] = []

    @server.on("disconnect")  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, reason: Any) -> None:
        gone.append(reason)

    socket = WebsocketSocket(server, "ws")
    server.sockets["ws"] = socket
    ws = FakeWebsocket()
    serving = asyncio.ensure_future(socket._websocket_handler(ws))
    await asyncio.sleep(0)
    last_acks = [packet.Packet(packet.MESSAGE, f"ack{i}") for i in range(3)]
    for pkt in last_acks:
        await socket.send(pkt)

    await drain(Work(), server, _deadline(5))
    async with asyncio.timeout(5):
        await serving

    # No CLOSE packet: python-socketio's client would take one as "server disconnect"
    # and stay away; a closed websocket is a transport close to every client.
    assert ws.sent == [pkt.encode() for pkt in last_acks]
    assert ws.closed.is_set()
    assert gone == [server.reason.SERVER_DISCONNECT]


async def test_a_long_polling_session_gets_the_close_packet_on_its_pending_get() -> None:
    server = EngineServer(async_mode="asgi")
    socket = AsyncSocket(server, "poll")
    socket.connected = True
    server.sockets["poll"] = socket
    draining = asyncio.ensure_future(drain(Work(), server, _deadline(5)))
    await asyncio.sleep(0.01)

    packets = await socket.handle_get_request({})

    assert [p.packet_type for p in packets] == [packet.CLOSE]
    async with asyncio.timeout(5):
        await draining
    assert socket.closed


async def test_a_draining_server_refuses_new_sessions_with_503() -> None:
    server = EngineServer(async_mode="asgi")
    server.work = Work()
    server.work.draining = True
    environ = {"asgi.scope": {"type": "http"}, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}

    refusal = await server._handle_connect(environ, "polling")

    assert refusal["status"].startswith("503")
    assert server.sockets == {}


async def test_every_registered_drain_runs_and_a_slow_one_is_cut_at_the_deadline() -> None:
    ran: list[str] = []

    async def quick(_deadline: float) -> None:
        ran.append("quick")

    async def stuck(_deadline: float) -> None:
        await asyncio.sleep(60)

    forget = [lifecycle.on_drain(quick), lifecycle.on_drain(stuck)]
    try:
        began = asyncio.get_running_loop().time()
        await lifecycle.drain(_deadline(0.1))
        assert asyncio.get_running_loop().time() - began < 2
        assert ran == ["quick"]
    finally:
        for f in forget:
            f()
    await lifecycle.drain(_deadline(0.1))  # none left: nothing runs
    assert ran == ["quick"]


async def test_http_requests_count_in_flight_and_are_refused_while_draining() -> None:
    work = Work()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        inside.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    tracked = TrackRequests(app, work)
    upload = asyncio.ensure_future(tracked({"type": "http"}, receive, send))
    await inside.wait()
    assert work.in_flight == 1
    work.draining = True
    await tracked({"type": "http"}, receive, send)  # a new request during the drain
    assert sent[0]["status"] == 503
    release.set()
    await upload
    assert sent[-2]["status"] == 200  # the one in flight finished normally
    assert await work.finished(_deadline(0))
