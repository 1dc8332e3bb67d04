"""uvicorn's websocket protocol (websockets, sans-I/O), holding less per idle socket.

A chat server holds thousands of websockets that are idle nearly all the time, so what
each keeps between messages is what the server's memory is made of. This subclass of
uvicorn's protocol changes three things and nothing on the wire:
- received ASGI events wait in a `LightQueue` instead of an `asyncio.Queue` (about 2.5 KB
  a socket);
- the transport's write pause is a future that exists only while writing is paused,
  instead of an `asyncio.Event` (about 1 KB);
- the handshake's request and response, with their headers, are let go once the
  handshake is done: uvicorn keeps them for the socket's life, though nothing reads them
  afterwards (about 3 KB).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from slychat.transport.light_queue import LightQueue


class Gate:
    """The part of `asyncio.Event` uvicorn's protocol uses for its write pause."""

    __slots__ = ("_closed",)

    def __init__(self) -> None:
        self._closed: asyncio.Future[None] | None = None  # while writing is paused

    def set(self) -> None:
        closed, self._closed = self._closed, None
        if closed is not None and not closed.done():
            closed.set_result(None)

    def clear(self) -> None:
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()

    def is_set(self) -> bool:
        return self._closed is None

    async def wait(self) -> None:
        if self._closed is not None:
            await asyncio.shield(self._closed)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Stand-ins with the same methods uvicorn calls (hence the ignores).
        self.queue = LightQueue()  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and self.response is not None:
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
