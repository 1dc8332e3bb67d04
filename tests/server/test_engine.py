"""engine.io's websocket loop as slychat runs it: no task or timer per message, and a
socket closed by the ping monitor still ends its websocket."""

from __future__ import annotations

import asyncio
from typing import Any

import engineio
from engineio import packet

from slychat.server.engine import EngineServer, WebsocketSocket


class FakeWebsocket:
    """engine.io's view of a websocket: frames in, frames out, close."""

    def __init__(self) -> None:
        self.inbound: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[str] = []
        self.closed = asyncio.Event()

    async def wait(self) -> str:
        data = await self.inbound.get()
        if data is None:
            raise OSError("disconnected")
        return data

    async def send(self, data: str) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed.set()
        await self.inbound.put(None)  # the server closing ends the client's side too


def _socket(received: list[Any]) -> WebsocketSocket:
    server = engineio.AsyncServer(async_mode="asgi")

    @server.on("message")  # type: ignore[untyped-decorator]
    async def message(_sid: str, data: Any) -> None:
        received.append(data)

    socket = WebsocketSocket(server, "sid")
    server.sockets["sid"] = socket
    return socket


async def test_frames_are_received_in_order_and_packets_sent() -> None:
    received: list[Any] = []
    socket = _socket(received)
    ws = FakeWebsocket()
    serving = asyncio.ensure_future(socket._websocket_handler(ws))
    for i in range(3):
        await ws.inbound.put(packet.Packet(packet.MESSAGE, f"in{i}").encode())
    await socket.send(packet.Packet(packet.MESSAGE, "out"))
    await ws.inbound.put(None)  # the client goes away

    async with asyncio.timeout(5):
        await serving

    assert received == ["in0", "in1", "in2"]
    assert ws.sent == [packet.Packet(packet.MESSAGE, "out").encode()]
    assert ws.closed.is_set()
    assert socket.closed


async def test_a_socket_closed_by_the_ping_monitor_ends_its_websocket() -> None:
    socket = _socket([])
    ws = FakeWebsocket()
    serving = asyncio.ensure_future(socket._websocket_handler(ws))
    await asyncio.sleep(0)

    # What engine.io's monitor does to a client that stopped answering pings.
    await socket.close(wait=False, abort=False)

    async with asyncio.timeout(5):
        await serving
    assert ws.sent == [packet.Packet(packet.CLOSE).encode()]
    assert ws.closed.is_set()


async def test_a_wake_up_takes_everything_queued_up_to_the_end() -> None:
    socket = _socket([])
    queued = [packet.Packet(packet.MESSAGE, f"m{i}") for i in range(3)]
    for p in queued:
        await socket.queue.put(p)
    await socket.queue.put(None)

    assert await socket._queued() == queued
    assert await socket._queued() == []


class StalledWebsocket(FakeWebsocket):
    """A peer that stopped reading: every send waits until the connection is dropped."""

    async def send(self, data: str) -> None:
        await self.closed.wait()
        raise OSError("dropped")


async def test_a_socket_whose_queue_fills_is_disconnected() -> None:
    server = EngineServer(async_mode="asgi", max_queued_packets=5)
    gone: list[str] = []

    @server.on("disconnect")  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, reason: Any) -> None:
        gone.append(sid)

    socket = WebsocketSocket(server, "slow")
    server.sockets["slow"] = socket
    ws = StalledWebsocket()
    serving = asyncio.ensure_future(socket._websocket_handler(ws))
    await socket.send(packet.Packet(packet.MESSAGE, "first"))
    await asyncio.sleep(0)  # the writer takes it and stalls on the peer

    for i in range(50):
        await socket.send(packet.Packet(packet.MESSAGE, f"m{i}"))
    assert socket.queue.qsize() == 5  # never more than the cap

    async with asyncio.timeout(5):
        await serving
    assert gone == ["slow"]
    assert socket.closed
    assert ws.closed.is_set()


async def test_the_clients_close_answers_its_pending_long_poll() -> None:
    # Otherwise that GET waits for the poll timeout (45 s), and the client's disconnect
    # and the server's shutdown wait for it.
    socket = _socket([])
    socket.connected = True
    poll = asyncio.ensure_future(socket.handle_get_request({}))
    await asyncio.sleep(0.01)

    await socket.receive(packet.Packet(packet.CLOSE))  # the client's POST

    async with asyncio.timeout(1):
        packets = await poll
    assert [p.packet_type for p in packets] == [packet.NOOP]  # no CLOSE: an abort
    assert socket.closed
