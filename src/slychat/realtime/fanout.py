"""Socket.IO fan-out between nodes: python-socketio's Redis manager, with failures counted."""

from __future__ import annotations

import logging
from typing import Any

import socketio

log = logging.getLogger(__name__)


class RedisFanout(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio delivers to this node's sockets first and then publishes for the
    others; a failed publish is logged by the library and only counted here, so local
    clients keep being served while Redis is away. The subscriber reconnects on its own
    with a backoff capped at 60 s."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
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
        return socketio.AsyncManager()
    return RedisFanout(redis_url, channel=f"{prefix}:socketio")
