"""python-socketio's server, with one change beneath it in engine.io's websocket writer.

Each engine.io socket has a writer task that waits for packets with
`asyncio.wait_for(queue.get(), ping_interval + ping_timeout)`. On Python 3.11 that wraps
every wait in a new task and a timer: for a chat server, which wakes each socket's writer
for every message it receives, that was about a sixth of the CPU of a message (measured
with the bare framework answering the yardstick's events). Over websocket the timeout is
redundant: the socket's reader already gives up after the same time and then queues the
`None` that ends the writer. So websocket writers wait on the queue plainly; long-polling
keeps the library's own wait, whose timeout ends the poll.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from engineio.async_socket import AsyncSocket


class WebsocketSocket(AsyncSocket):  # type: ignore[misc]
    async def poll(self) -> list[Any]:
        if not self.upgraded:  # long-polling: the library's wait, with its timeout
            return await super().poll()  # type: ignore[no-any-return]
        first = await self.queue.get()
        self.queue.task_done()
        packets = [] if first is None else [first]
        while packets:  # everything else already queued goes out in the same wake-up
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


class Server(socketio.AsyncServer):  # type: ignore[misc]
    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # engine.io has just made the socket and has not started its writer yet.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is AsyncSocket:
            socket.__class__ = WebsocketSocket
        return await super()._handle_eio_connect(eio_sid, environ)
