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
import logging
from typing import Any

import engineio
import socketio
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from slychat.errors import Unavailable
from slychat.log_context import enter_socket, leave_socket
from slychat.transport import admission
from slychat.transport.admission import Admission
from slychat.transport.drain import Work
from slychat.transport.light_queue import LightQueue

log = logging.getLogger(__name__)
_FAIR_SHARE = 16  # frames one socket handles before the others get a turn
_background: set[asyncio.Future[None]] = set()


def _spawn(work: Any) -> None:
    task = asyncio.ensure_future(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


class WebsocketSocket(AsyncSocket):  # type: ignore[misc]
    connected: bool  # the library's: set once the transport is established
    closed: bool
    closing: bool
    queue: LightQueue
    ws: Any = None  # the websocket, while one serves the socket
    dropped = False  # disconnected for reading too slowly

    async def send(self, pkt: Any) -> None:
        if self.queue.full():
            self._drop()
            return
        await super().send(pkt)

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """The library's close, which also answers a long-polling session's pending GET
        when it closes without a CLOSE packet (`abort`, as on the client's own CLOSE)."""
        first = not (self.closed or self.closing)
        await super().close(wait=False, abort=abort, reason=reason)
        if first and abort and not self.upgraded:
            # Unanswered, that GET would wait for a packet until the poll timeout (ping
            # interval + ping timeout, 45 s): the client's disconnect waits for it, and
            # uvicorn's shutdown too. The reference server answers it when it closes; a NOOP
            # keeps the meaning of an abort (no CLOSE packet for the client).
            self.queue.put_nowait(packet.Packet(packet.NOOP))
        if first and wait:
            await self.queue.join()

    def _drop(self) -> None:
        """The client reads slower than it is written to: disconnect it rather than queue
        without end (it catches up with syncMessages when it comes back)."""
        if self.dropped or self.closed or self.closing:
            return
        self.dropped = True
        log.warning("a client left %d events unread; disconnecting it", self.queue.qsize())
        # Not here: this send belongs to another user's handler, which must not wait for
        # this socket's disconnect handlers.
        _spawn(self._close_dropped())

    async def _close_dropped(self) -> None:
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
        if self.ws is not None:
            # The writer may be stuck behind a peer that stopped reading; closing the
            # websocket drops the connection (see transport.websocket).
            await self.ws.close()

    async def _websocket_handler(self, ws: Any) -> Any:
        self.ws = ws
        if self.connected:  # an upgrade from long-polling: the library's own loop
            return await super()._websocket_handler(ws)
        self.connected = True
        self.upgraded = True
        await self._serve_websocket(ws)
        return None

    async def _serve_websocket(self, ws: Any) -> None:
        writer = asyncio.ensure_future(self._write(ws))
        limit = self.server.max_http_buffer_size
        handled = 0
        while True:
            handled += 1
            if handled % _FAIR_SHARE == 0:
                # Frames that arrived together are read without waiting, and a refused
                # event never waits either: a client sending thousands at once would hold
                # the loop until it had them all handled. Let the others run.
                await asyncio.sleep(0)
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
                # (not the session id: whoever holds it may act on the connection)
                self.server.logger.exception("a websocket packet could not be handled")
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
            if self.closed and self.queue.empty():
                # Closed by the ping monitor or the server: end the websocket, once what
                # was queued before the close (a drain's last acks) is written.
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
    sockets: dict[str, Any]
    work: Work | None = None  # the process's work in flight; draining refuses new sessions

    def __init__(
        self,
        *,
        max_queued_packets: int = 0,
        admission: Admission | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_queued_packets = max_queued_packets  # per socket; 0: no limit
        self.admission = admission

    def create_queue(self, *args: Any, **kwargs: Any) -> LightQueue:
        """Each socket's queue of packets to send: a `LightQueue`, small while empty."""
        return LightQueue(self.max_queued_packets)

    async def _handle_connect(
        self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None
    ) -> Any:
        """A new connection: refused with an HTTP status before any state is kept when the
        process is full or draining (503) or the address makes too many attempts (429)."""
        if self.work is not None and self.work.draining:
            leaving = Unavailable("The server is restarting, please reconnect")
            return await _refuse(environ, *admission.response(leaving))
        if self.admission is not None:
            refusal = await self.admission.refusal(environ, len(self.sockets))
            if refusal is not None:
                return await _refuse(environ, *admission.response(refusal))
        return await super()._handle_connect(environ, transport, jsonp_index)


async def _refuse(environ: dict[str, Any], status: str, headers: Any, body: bytes) -> Any:
    scope = environ["asgi.scope"]
    denial = "websocket.http.response" in scope.get("extensions", {})
    if scope["type"] != "websocket" or not denial:
        # Long-polling (or a server without ASGI's websocket denial responses: engine.io
        # then closes the websocket, which the server answers with 403).
        return {"status": status, "headers": headers, "response": body}
    send = environ["asgi.send"]
    await send(
        {
            "type": "websocket.http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})
    return None  # answered


class Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, closing a connection that has not opened a namespace with
    a valid token within `handshake_timeout` seconds: python-socketio has no such limit
    (socket.io's `connectTimeout`), and an idle engine.io connection costs as much as a
    real one."""

    eio: EngineServer

    def __init__(self, *, handshake_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handshake_timeout = handshake_timeout
        self._deadlines: dict[str, asyncio.TimerHandle] = {}  # engine.io sid -> its timer
        self.work = Work()  # events and requests in flight, for the drain (transport.drain)
        self.eio.work = self.work

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    async def _trigger_event(self, event: Any, namespace: str, *args: Any) -> Any:
        """Run a handler with its connection's log id bound (`socket=`): a keyed hash of
        the engine.io session id, never the id itself, which is a secret."""
        sid = args[0] if args else None
        if not isinstance(sid, str):
            return await super()._trigger_event(event, namespace, *args)
        token = enter_socket(self.manager.eio_sid_from_sid(sid, namespace) or sid)
        try:
            if event in ("connect", "disconnect"):
                log.debug("%s on %s", event, namespace)
            return await super()._trigger_event(event, namespace, *args)
        finally:
            leave_socket(token)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # engine.io has just made the socket and has not started serving it yet.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is AsyncSocket:
            socket.__class__ = WebsocketSocket
        if self.handshake_timeout is not None:
            self._deadlines[eio_sid] = asyncio.get_running_loop().call_later(
                self.handshake_timeout, self._handshake_expired, eio_sid
            )
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        if eio_sid in self._deadlines:
            namespace = namespace or "/"
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and self.manager.is_connected(sid, namespace):
                self._deadlines.pop(eio_sid).cancel()
        # A connect handler that awaits (/presence counts the connection, in Redis with
        # several nodes) can outlive its transport: a polling client's close comes on
        # another request, and the library skips the disconnect handler of a socket that
        # is still connecting, then admits it. Left so, it would stay counted online and
        # in its namespace's sessions for good: run its disconnect now.
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        if sid is not None and self.manager.is_connected(sid, ns) and self._gone(eio_sid):
            await self._handle_disconnect(eio_sid, ns, self.reason.TRANSPORT_CLOSE)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        deadline = self._deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    def _handshake_expired(self, eio_sid: str) -> None:
        self._deadlines.pop(eio_sid, None)
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not socket.closed:
            _spawn(socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT))

    def _gone(self, eio_sid: str) -> bool:
        """The engine.io connection is closed or closing."""
        socket = self.eio.sockets.get(eio_sid)
        return socket is None or bool(socket.closed or socket.closing)
