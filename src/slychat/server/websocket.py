"""uvicorn's websocket protocol (websockets, sans-I/O), holding less per idle socket.

A chat server holds thousands of websockets that are idle nearly all the time, so what
each keeps between messages is what the server's memory is made of. This subclass of
uvicorn's protocol changes three things and nothing on the wire:
- received ASGI events wait in a `LightQueue` instead of an `asyncio.Queue` (about 2.5 KB
  a socket);
- the transport's write pause is a future that exists only while writing is paused,
  instead of an `asyncio.Event` (about 1 KB);
- the handshake's request and response, with their headers, are let go once the
  handshake is done: uvicorn keeps them, and websockets' parser holds the request, for
  the socket's life, though nothing reads them afterwards (about 3 KB a socket).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from slychat.server.light_queue import LightQueue


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
        # websockets logs every frame at DEBUG: frames carry session ids, tokens and
        # message text, which no log may hold (docs/security.md).
        self.conn.debug = False

    early_data = False  # bytes came after the handshake request, before the response

    def data_received(self, data: bytes) -> None:
        if self.handshake_initiated and not self.handshake_complete:
            self.early_data = True
        super().data_received(data)
        # websockets refused a request it could not read (a request line over 8 KiB, such
        # as a huge `?token=`, or oversized headers) and prepared its 414 or 431, which
        # uvicorn never sends: the connection would hang open. Send it and close.
        refused = self.conn.handshake_exc is not None and not self.handshake_initiated
        if refused and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and not self.writable.is_set():
            # The peer stopped reading (writing is paused): a close frame would wait behind
            # everything it left unread, for as long as it likes. Drop the connection.
            self.transport.abort()
            return
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # A handshake refused with an HTTP response (server/engine.py): uvicorn sent it
            # and closed, but would log the refusal as an app that never completed its
            # handshake.
            self.handshake_complete = True
        if self.handshake_complete and self.response is not None:
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
            # websockets' ServerProtocol keeps the handshake's request, headers and all,
            # as a local of its parser generator for the connection's life: frames go to
            # a protocol object made in the OPEN state instead. Not when bytes came before
            # the 101 response (a client may not send frames then, RFC 6455 4.1): the old
            # parser may hold part of a frame.
            if self.conn.state is OPEN and not self.early_data and not self.close_sent:
                conn = ServerProtocol(
                    state=OPEN, max_size=self.config.ws_max_size, logger=self.conn.logger
                )
                conn.extensions = self.conn.extensions
                conn.debug = False  # as in __init__: frames are never logged
                self.conn = conn
