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
import time
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
import socketio
from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from slychat.domain.errors import Unavailable
from slychat.logs.context import enter_socket, leave_socket
from slychat.server import admission
from slychat.server.admission import Admission
from slychat.server.drain import Work
from slychat.server.light_queue import LightQueue

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
    last_ping: float | None  # the library's: when the unanswered ping was sent
    queue: LightQueue
    ws: Any = None  # the websocket, while one serves the socket
    serving = False  # served by `_serve_websocket`, whose writer ends the websocket
    dropped = False  # disconnected for reading too slowly

    _ping_timer: asyncio.TimerHandle | None = None

    def schedule_ping(self) -> None:
        """The library's heartbeat with a timer where it keeps a task asleep for the ping
        interval: the timer is smaller, and a socket that closes cancels it, so that a
        closed session is freed at once rather than a ping interval (25 s) later."""
        if self.last_ping:  # the previous ping was answered (or none was sent yet)
            self.last_ping = None
            self._ping_timer = asyncio.get_running_loop().call_later(
                self.server.ping_interval, self._ping_due
            )

    def _ping_due(self) -> None:
        self._ping_timer = None
        if not (self.closing or self.closed):
            self.last_ping = time.time()
            _spawn(self.send(packet.Packet(packet.PING)))

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
        if not first:
            return
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        if abort and not self.upgraded:
            # Unanswered, that GET would wait for a packet until the poll timeout (ping
            # interval + ping timeout, 45 s): the client's disconnect waits for it, and
            # uvicorn's shutdown too. The reference server answers it when it closes; a NOOP
            # keeps the meaning of an abort (no CLOSE packet for the client).
            self.queue.put_nowait(packet.Packet(packet.NOOP))
        if self.serving:
            # The writer ends the websocket once what is queued is written. Without this
            # mark nothing would wake it when no packet follows the close: the client's own
            # CLOSE, or the ping monitor's close (whose CLOSE packet the library's `send`
            # drops, the ping being overdue), would leave the websocket open for good.
            self.queue.put_nowait(None)
        if wait and (self.upgraded or self.queue.reader_waiting):
            # A long-polling session is read only by a GET already waiting: once closed it
            # is forgotten, so a later GET gets 400. Waiting for a reader that cannot come
            # would hold the caller for good (python-engineio's answer to an oversize POST
            # waits here, and the request, its body and the session stay).
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
            # websocket drops the connection (see server/websocket.py).
            await self.ws.close()

    async def _websocket_handler(self, ws: Any) -> Any:
        self.ws = ws
        if self.connected:  # an upgrade from long-polling: the library's own loop
            return await super()._websocket_handler(ws)
        self.connected = True
        self.upgraded = True
        self.serving = True
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
            except exceptions.SocketIsClosedError:
                break
            except exceptions.UnknownPacketError:
                pass  # an Engine.IO type this version does not know: ignored, as the library does
            except ValueError:
                log.info("a client sent a packet Engine.IO does not allow; closing it")
                break
            except Exception:
                # (not the session id: whoever holds it may act on the connection)
                log.exception("a websocket packet could not be handled; closing it")
                break
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


class InvalidPacket(ValueError):
    """A Socket.IO packet whose payload the protocol does not allow."""


def _is_event_name(name: Any) -> bool:
    return isinstance(name, str) or (isinstance(name, int | float) and not isinstance(name, bool))


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
        # Called with the engine.io session id of each connection that closed, after its
        # namespaces' disconnect handlers (the per-user connection count).
        self.closed_hooks: list[Callable[[str], Awaitable[None]]] = []
        self.work = Work()  # events and requests in flight, for the drain (server/drain.py)
        self.eio.work = self.work

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A Socket.IO packet; one the protocol does not allow closes its connection.

        python-socketio raises for such a packet (an unknown type, a CONNECT_ERROR from the
        client, a payload that is not JSON, a bad ack id), but engine.io only logs what its
        message handler raises and keeps the connection: closed here, as the protocol says.
        """
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError:
            log.info("a client sent a packet Socket.IO does not allow; closing it")
            socket = self.eio.sockets.get(eio_sid)
            if socket is not None:
                await socket.close(wait=False, reason=self.eio.reason.TRANSPORT_ERROR)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> Any:
        # The protocol's EVENT payload: a list that starts with the event's name (a string
        # or a number); python-socketio reads `data[0]` of anything.
        if not (isinstance(data, list) and data and _is_event_name(data[0])):
            raise InvalidPacket("an EVENT's payload must be a list starting with its name")
        return await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_ack(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> Any:
        if not isinstance(data, list):
            raise InvalidPacket("an ACK's payload must be a list")
        return await super()._handle_ack(eio_sid, namespace, id, data)

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

    async def _handle_disconnect(
        self, eio_sid: str, namespace: str | None, reason: Any = None
    ) -> None:
        await super()._handle_disconnect(eio_sid, namespace, reason)
        self._deadline_unless_open(eio_sid)

    async def disconnect(self, sid: str, namespace: str | None = None, **kwargs: Any) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        await super().disconnect(sid, namespace, **kwargs)
        if eio_sid is not None:
            self._deadline_unless_open(eio_sid)

    def _deadline_unless_open(self, eio_sid: str) -> None:
        """A connection left without any namespace (the client sent DISCONNECT, or the
        server sent it away from one) gets the handshake time limit again: it must open a
        namespace within `handshake_timeout` or be closed. Else a client could keep an
        engine.io connection, answering pings, that no namespace counts."""
        if self.handshake_timeout is None or eio_sid in self._deadlines or self._gone(eio_sid):
            return
        namespaces = self.manager.get_namespaces()
        if any(self.manager.sid_from_eio_sid(eio_sid, ns) is not None for ns in namespaces):
            return
        self._deadlines[eio_sid] = asyncio.get_running_loop().call_later(
            self.handshake_timeout, self._handshake_expired, eio_sid
        )

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        deadline = self._deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)
        for hook in self.closed_hooks:
            try:
                await hook(eio_sid)
            except Exception:
                log.exception("a closed connection's clean-up failed")

    def _handshake_expired(self, eio_sid: str) -> None:
        self._deadlines.pop(eio_sid, None)
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not socket.closed:
            _spawn(socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT))

    def _gone(self, eio_sid: str) -> bool:
        """The engine.io connection is closed or closing."""
        socket = self.eio.sockets.get(eio_sid)
        return socket is None or bool(socket.closed or socket.closing)
