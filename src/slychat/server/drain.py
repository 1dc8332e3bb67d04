"""Draining a server before it stops: finish the work in flight, then send every client
away so that it reconnects, to another node (docs/operations.md, graceful shutdown).

How each client is sent away decides whether it comes back by itself. socket.io-client
reconnects after a transport close, never after a Socket.IO DISCONNECT packet ("io
server disconnect"); python-socketio's client also stays away after an engine.io CLOSE
packet. So, as the reference engine.io server does when it closes: a websocket is just
closed (after what was queued for it is written), and a long-polling session's pending
GET gets the CLOSE packet (socket.io-client takes that as a transport close too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
from engineio import packet as eio_packet
from starlette.types import ASGIApp, Receive, Scope, Send

from slychat.domain.errors import Unavailable
from slychat.protocol import outbound as wire

log = logging.getLogger(__name__)
# How long a closed session's last packets may take to leave: a live client takes them at
# once (a websocket is written to; a polling client has its next GET in within
# milliseconds), while a polling client that never comes back for its CLOSE packet, or a
# peer that stopped reading, must not hold the drain (every node's restart would wait).
FLUSH_WITHIN = 1.0


class Work:
    """Client work in flight in this process (Socket.IO events, HTTP requests), and whether
    the process is draining: then no new work should start."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        """One more piece of work is in flight, until its `end`."""
        self.in_flight += 1
        self._idle.clear()

    def end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the enclosed work as in flight."""
        self.begin()
        try:
            yield
        finally:
            self.end()

    async def finished(self, deadline: float) -> bool:
        """Wait (until `deadline`, event loop time) for nothing to be in flight; whether it
        came to that."""
        try:
            async with asyncio.timeout_at(deadline):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class TrackRequests:
    """ASGI middleware: an HTTP request (an upload, a REST call) is work in flight until
    its response is sent; while the process drains, new requests get 503."""

    def __init__(self, app: ASGIApp, work: Work) -> None:
        self.app = app
        self.work = work

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif self.work.draining:
            body = orjson.dumps(wire.error(Unavailable("The server is restarting, retry")))
            headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            with self.work.track():
                await self.app(scope, receive, send)


async def drain(work: Work, eio: Any, deadline: float) -> None:
    """Stop new work, wait for the work in flight, then close every engine.io session;
    all before `deadline` (event loop time)."""
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    work.draining = True
    busy = work.in_flight
    # The sessions need a little time of their own to be closed and flushed.
    settled = await work.finished(loop.time() + _share(deadline - loop.time(), 0.8))
    waited = time.monotonic() - began
    if settled:
        log.info("drain: %d events and requests in flight finished in %.2fs", busy, waited)
    else:
        log.warning(
            "drain: %d events and requests still in flight after %.2fs; closing anyway",
            work.in_flight,
            waited,
        )
    sockets = [s for s in list(eio.sockets.values()) if not (s.closed or s.closing)]
    closing = [asyncio.ensure_future(_send_away(s)) for s in sockets]
    if closing:
        done, pending = await asyncio.wait(closing, timeout=max(0.0, deadline - loop.time()))
        for task in pending:
            task.cancel()
        if pending:
            log.warning("drain: %d sessions did not close in time", len(pending))
        failed = [t.exception() for t in done if t.exception() is not None]
        if failed:
            log.error("drain: closing %d sessions failed", len(failed), exc_info=failed[0])
    log.info(
        "drain: %d sessions closed (clients reconnect elsewhere) in %.2fs",
        len(sockets),
        time.monotonic() - began,
    )


async def _send_away(socket: Any) -> None:
    """Close one engine.io session so that its client reconnects: after the packets
    already queued for it (acks of the events that just finished) are written."""
    reason = socket.server.reason.SERVER_DISCONNECT
    if socket.upgraded:  # websocket: no CLOSE packet, the socket closes under the client
        await socket.close(wait=False, abort=True, reason=reason)
        await socket.queue.put(None)  # the writer sends what is queued, then closes
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_WITHIN):
                await socket.queue.join()
    else:
        # Long-polling: the pending GET, or the next one, carries the CLOSE packet; only
        # then is the session closed, because a GET that finds it closed already gets a
        # 400, which socket.io-client takes as a transport error (between two polls of the
        # client, that was one drain in six).
        await socket.send(eio_packet.Packet(eio_packet.CLOSE))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_WITHIN):
                await socket.queue.join()
        await socket.close(wait=False, abort=True, reason=reason)


def _share(remaining: float, fraction: float) -> float:
    return max(0.0, remaining * fraction)
