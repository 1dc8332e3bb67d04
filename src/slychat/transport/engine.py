"""python-socketio's server, with engine.io's websocket loop written for a chat server.

engine.io runs two loops per websocket. Its reader wraps every read in a new task and an
`asyncio.wait_for` timeout, and its writer does the same for every wait on its queue: on
Python 3.11 that is a task and a timer per message received and per wake-up of every
recipient's writer, which measured about a sixth of the CPU of a message with the bare
framework answering the yardstick's events. Neither timeout is needed: engine.io's ping
monitor already closes a socket whose client stopped answering pings, and then the writer
here ends the websocket, which ends the reader.

A socket that upgrades from long-polling keeps the library's own loop (its upgrade
handshake lives there); one that opens as a websocket, as slychat's clients do, gets
`_serve_websocket`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import engineio
import socketio
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from slychat.transport.light_queue import LightQueue


class WebsocketSocket(AsyncSocket):  # type: ignore[misc]
    connected: bool  # the library's: set once the transport is established

    async def _websocket_handler(self, ws: Any) -> Any:
        if self.connected:  # an upgrade from long-polling: the library's own loop
            return await super()._websocket_handler(ws)
        self.connected = True
        self.upgraded = True
        await self._serve_websocket(ws)
        return None

    async def _serve_websocket(self, ws: Any) -> None:
        writer = asyncio.ensure_future(self._write(ws))
        limit = self.server.max_http_buffer_size
        while True:
            try:
                data = await ws.wait()
            except (Exception, asyncio.CancelledError):  # the websocket closed
                break
            if data is None or len(data) > limit:
                break
            try:
                await self.receive(packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
            except Exception:
                self.server.logger.exception("%s: receive error", self.sid)
        await self.queue.put(None)  # the writer sends what is queued, then stops
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _write(self, ws: Any) -> None:
        while packets := await self._queued():
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:  # the websocket is gone
                break
            if self.closed:  # closed by the ping monitor or the server: end the websocket
                break
        await ws.close()

    async def _queued(self) -> list[Any]:
        """Every packet queued, waiting for the first; [] once the socket is done."""
        first = await self.queue.get()
        self.queue.task_done()
        packets = [] if first is None else [first]
        while packets:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            self.queue.task_done()
            if pkt is None:  # the end: send what came before it, then stop
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        return packets


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    def create_queue(self, *args: Any, **kwargs: Any) -> LightQueue:
        """Each socket's queue of packets to send: a `LightQueue`, small while empty."""
        return LightQueue()


class Server(socketio.AsyncServer):  # type: ignore[misc]
    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # engine.io has just made the socket and has not started serving it yet.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is AsyncSocket:
            socket.__class__ = WebsocketSocket
        return await super()._handle_eio_connect(eio_sid, environ)
