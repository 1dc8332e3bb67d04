"""Engine.IO spoken by hand over a websocket, for clients no Socket.IO library would be:
one that never opens a namespace, one that stops reading."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import Server, token


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def open_engineio(
    server: Server, *, receive_buffer: int | None = None, max_queue: int = 16
) -> ClientConnection:
    """An engine.io connection over a websocket, its OPEN packet read, no namespace yet.
    `receive_buffer` shrinks the socket's kernel buffer (a client that stops reading then
    soon stops acknowledging bytes); `max_queue` is how many frames the client buffers
    before it stops reading its socket."""
    sock = None
    if receive_buffer is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", server.port))
        sock.setblocking(False)
    ws = await connect(
        ws_url(server), sock=sock, max_queue=max_queue, max_size=None, ping_interval=None
    )
    async with asyncio.timeout(10):
        opened = await ws.recv()
    assert isinstance(opened, str), opened
    assert opened.startswith("0{"), opened
    return ws


async def until_closed(ws: ClientConnection, timeout: float = 10.0) -> None:
    """Read until the server closes the connection (TimeoutError if it stays open)."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            async with asyncio.timeout(timeout):
                await ws.recv()


async def open_namespace(ws: ClientConnection, namespace: str, role: str, user_id: int) -> None:
    """Send a Socket.IO CONNECT for `namespace` with a valid token (the answer is not read)."""
    auth: dict[str, Any] = {"token": token(role, user_id)}
    await ws.send(f"40{namespace},{json.dumps(auth)}")


async def next_packet(ws: ClientConnection, timeout: float = 10.0) -> str | bytes:
    """The next frame that is not a PING, each PING answered with a PONG as clients do."""
    while True:
        async with asyncio.timeout(timeout):
            frame = await ws.recv()
        if frame != "2":
            return frame
        await ws.send("3")


async def answer_pings_until_closed(ws: ClientConnection, timeout: float = 10.0) -> list[Any]:
    """Answer every PING until the server closes the connection; the frames it sent (a
    TimeoutError if it stays open `timeout` seconds in all)."""
    frames: list[Any] = []
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await ws.recv()
                frames.append(frame)
                if frame == "2":
                    await ws.send("3")
    return frames
