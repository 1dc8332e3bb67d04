"""Socket.IO fan-out: in-process, or between nodes over Redis pub/sub (python-socketio's
Redis manager, with failed publishes counted)."""

from __future__ import annotations

import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

from slychat.transport.codec import Json

log = logging.getLogger(__name__)


class LocalFanout(socketio.AsyncManager):  # type: ignore[misc]
    """Delivers to this process's sockets with one encoding per emit and no task per
    recipient: python-socketio's manager starts a task for every recipient and waits for
    them all, which cost more than the send itself (each send only queues the frame for
    the socket's writer)."""

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
        for sid, eio_sid in self.get_participants(namespace, to or room):
            if sid not in skip:
                await self.server.eio.send_packet(eio_sid, frame)


class RedisFanout(socketio.AsyncRedisManager, LocalFanout):  # type: ignore[misc]
    """python-socketio delivers to this node's sockets first (through `LocalFanout`) and
    then publishes for the others; a failed publish is logged by the library and only
    counted here, so local clients keep being served while Redis is away. The subscriber
    reconnects on its own with a backoff capped at 60 s."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel, json=Json)
        self.publish_failures = 0

    async def _publish(self, data: Any) -> Any:
        result = await super()._publish(data)
        if result is None:  # the library gave up after its retry
            self.publish_failures += 1
            log.error("fan-out publish failed (%d so far)", self.publish_failures)
        return result


def manager(redis_url: str | None, prefix: str) -> Any:
    """The Socket.IO client manager: Redis pub/sub when configured, else in-process."""
    if redis_url is None:
        return LocalFanout()
    return RedisFanout(redis_url, channel=f"{prefix}:socketio")
