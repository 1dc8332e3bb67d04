"""Socket.IO fan-out: in-process, or between nodes over Redis pub/sub (python-socketio's
Redis manager, with failed publishes counted)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

from slychat.log_context import start_task
from slychat.logs import describe
from slychat.transport.codec import Json

log = logging.getLogger(__name__)


class LocalFanout(socketio.AsyncManager):  # type: ignore[misc]
    """Delivers to this process's sockets with one encoding per emit and no task per
    recipient: python-socketio's manager starts a task for every recipient and waits for
    them all, which cost more than the send itself (each send only queues the frame for
    the socket's writer).

    `emits` and `recipients` count this process's deliveries, for /metrics."""

    emits = 0
    recipients = 0

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:  # each recipient needs its own ack id
            await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        if namespace not in self.rooms:
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frame = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        self.emits += 1
        for sid, eio_sid in self.get_participants(namespace, to or room):
            if sid not in skip:
                self.recipients += 1
                await self.server.eio.send_packet(eio_sid, frame)


class RedisFanout(socketio.AsyncRedisManager, LocalFanout):  # type: ignore[misc]
    """python-socketio delivers to this node's sockets first (through `LocalFanout`) and
    then publishes for the others. The subscriber reconnects on its own with a backoff
    capped at 60 s.

    Publishing does not wait for Redis: emits queue their message, and one task sends
    everything queued in one pipelined round trip, in order (a message cost three round
    trips in its sender's handler before). A publish that fails is retried once on a new
    connection, then dropped and counted, so local clients keep being served while Redis
    is away; the clients of other nodes catch up through sync.
    """

    connected: bool  # the library's: whether its Redis client is set up

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel, json=Json)
        self.publish_failures = 0
        self._outbox: list[Any] = []
        self._sender: asyncio.Task[None] | None = None

    async def _publish(self, data: Any) -> None:
        self._outbox.append(data)
        if self._sender is None:
            self._sender = start_task("redis_publish", self._send_outbox())

    async def _send_outbox(self) -> None:
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[Any]) -> None:
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for data in batch:
                    pipe.publish(self.channel, self.json.dumps(data))
                await pipe.execute()
                return
            except Exception as exc:  # any failure of Redis or its connection
                self.connected = False
                if attempt == 2:
                    self.publish_failures += len(batch)
                    log.error(
                        "fan-out publish of %d messages failed (%d so far): %s",
                        len(batch),
                        self.publish_failures,
                        describe(exc),
                    )


def manager(redis_url: str | None, prefix: str) -> Any:
    """The Socket.IO client manager: Redis pub/sub when configured, else in-process."""
    if redis_url is None:
        return LocalFanout()
    return RedisFanout(redis_url, channel=f"{prefix}:socketio")
