"""engine.io's websocket writer, waiting on its queue without a task per wake-up."""

from __future__ import annotations

import asyncio

import engineio
from engineio import packet

from slychat.transport.engine import WebsocketSocket


def _socket() -> WebsocketSocket:
    socket = WebsocketSocket(engineio.AsyncServer(async_mode="asgi"), "sid")
    socket.upgraded = True
    return socket


async def test_a_wake_up_takes_everything_queued_in_order() -> None:
    socket = _socket()
    sent = [packet.Packet(packet.MESSAGE, f"m{i}") for i in range(3)]
    for p in sent:
        await socket.queue.put(p)

    assert await socket.poll() == sent


async def test_the_writer_waits_for_a_packet() -> None:
    socket = _socket()
    waiting = asyncio.ensure_future(socket.poll())
    await asyncio.sleep(0)
    assert not waiting.done()

    one = packet.Packet(packet.MESSAGE, "late")
    await socket.queue.put(one)

    assert await waiting == [one]


async def test_the_end_comes_after_what_was_queued_before_it() -> None:
    socket = _socket()
    last = packet.Packet(packet.MESSAGE, "last words")
    await socket.queue.put(last)
    await socket.queue.put(None)

    assert await socket.poll() == [last]
    assert await socket.poll() == []  # then the writer stops
