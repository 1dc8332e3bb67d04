"""How every node's block cache hears of a block or an unblock made on any node: in one
process there is nobody else to tell; with Redis, each change is published on
`<prefix>:blocks` and every node applies it when it hears it. A notice carries the pair's
state and when it changed, so notices heard late or out of order never undo a newer one.

Pub/sub loses what is published while a subscriber is away: every (re)subscription asks
its node to read the changes again from the database, and the node's poll (every
`SLYCHAT_REVOCATION_POLL`) reads them anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from slychat.domain.identity import Role, User
from slychat.domain.models import BlockState
from slychat.logs.outages import Outage
from slychat.logs.redaction import describe
from slychat.process.periodic import logged

log = logging.getLogger(__name__)

Heard = Callable[[BlockState], None]  # a change another node (or this one) published
Resubscribed = Callable[[], Awaitable[None]]  # notices may have been missed: read again


class BlockNotices(Protocol):
    async def publish(self, row: BlockState) -> None:
        """Tell every other node of the pair's new state; never raises."""
        ...

    async def listen(self, heard: Heard, resubscribed: Resubscribed) -> None:
        """Hand every notice to `heard`, until cancelled."""
        ...

    async def close(self) -> None: ...


class LocalBlockNotices:
    """One process: its cache was updated by the change itself."""

    async def publish(self, row: BlockState) -> None:
        return None

    async def listen(self, heard: Heard, resubscribed: Resubscribed) -> None:
        await asyncio.Event().wait()  # nothing to hear, ever

    async def close(self) -> None:
        return None


def encode(row: BlockState) -> str:
    return "|".join(
        (
            row.blocker.role.value,
            str(row.blocker.id),
            row.blocked.role.value,
            str(row.blocked.id),
            str(row.blocked_at),
            "1" if row.active else "0",
            str(row.changed_at),
        )
    )


def decode(text: str) -> BlockState:
    blocker_role, blocker_id, blocked_role, blocked_id, at, active, changed = text.split("|")
    return BlockState(
        User(Role(blocker_role), int(blocker_id)),
        User(Role(blocked_role), int(blocked_id)),
        int(at),
        active == "1",
        int(changed),
    )


class RedisBlockNotices:
    def __init__(self, url: str, prefix: str, timeout: float = 1.0) -> None:
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=10
        )
        self.channel = f"{prefix}:blocks"
        self.timeout = timeout
        self.outage = Outage("redis")
        self.failures = 0  # publishes or subscriptions that failed

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self.outage.failed(f"{what}: {describe(exc)}")

    async def publish(self, row: BlockState) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.redis.publish(self.channel, encode(row))
        except (RedisError, OSError, TimeoutError) as exc:
            # The other nodes' polls read it within SLYCHAT_REVOCATION_POLL.
            self._failed("publishing a block", exc)

    async def listen(self, heard: Heard, resubscribed: Resubscribed) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.outage.ok()
                # Whatever was published while this node was not subscribed.
                await logged(resubscribed(), "reading blocks after subscribing", log)
                while True:
                    # Bounded, as the presence listener's: a quiet channel is no failure.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message["type"] != "message":
                        continue
                    try:
                        row = decode(message["data"].decode())
                    except (ValueError, UnicodeDecodeError):
                        log.warning("ignored a block notice this node cannot read")
                        continue
                    heard(row)
            except (RedisError, OSError) as exc:
                self._failed("listening for blocks", exc)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        await self.redis.aclose()
