"""The Redis registry through Redis faults: data lost (a restart), a node cut off and
released by a peer, a Redis that hangs (SIGSTOP, on a redis-server of the test's own)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from slychat.domain.identity import Role, User
from slychat.realtime.redis import RedisRegistry
from tests.support import next_id
from tests.support.faults import RedisServer

Changes = list[tuple[str, User, bool]]


@contextlib.asynccontextmanager
async def running(registry: RedisRegistry, changes: Changes) -> AsyncIterator[None]:
    async def on_change(kind: str, user: User, online: bool) -> None:
        changes.append((kind, user, online))

    task = asyncio.create_task(registry.run(on_change))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_after_redis_lost_its_data_nobody_is_announced_online(
    redis_url: str, redis_prefix: str
) -> None:
    here = RedisRegistry(redis_url, redis_prefix, ttl=2)
    there = RedisRegistry(redis_url, redis_prefix, ttl=2)
    await here.start()
    user = User(Role.VENDOR, next_id())
    await here.add("presence", user, "sid-1")
    changes: Changes = []
    try:
        async with running(here, changes):
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{redis_prefix}:*"):  # as a restart without persistence
                client.delete(key)
            client.close()

            async def written_back() -> bool:
                there._counts.clear()
                return await there.count("presence", user) == 1

            await until(written_back)
        assert changes == []  # nobody had been told the user left
    finally:
        await here.close()
        await there.close()


async def test_a_node_released_by_a_peer_announces_its_users_when_back(
    redis_url: str, redis_prefix: str
) -> None:
    cut_off = RedisRegistry(redis_url, redis_prefix, ttl=2)
    peer = RedisRegistry(redis_url, redis_prefix, ttl=2)
    await cut_off.start()
    await peer.start()
    user = User(Role.CUSTOMER, next_id())
    await cut_off.add("presence", user, "sid-1")
    seen_by_peer: Changes = []
    back: Changes = []
    try:
        async with running(peer, seen_by_peer):  # `cut_off` beats no more: its key expires

            async def released() -> bool:
                return ("presence", user, False) in seen_by_peer

            await until(released)
        async with running(cut_off, back):

            async def announced() -> bool:
                return ("presence", user, True) in back

            await until(announced)
    finally:
        await cut_off.close()
        await peer.close()


async def test_a_late_node_s_users_count_until_a_peer_releases_them(
    redis_url: str, redis_prefix: str
) -> None:
    # The late node's key is gone (its heartbeat starved, or Redis paused past it): the
    # sweep waits a quarter of the TTL before taking it for dead, and counts agree with the
    # sweep: its users are neither counted gone nor announced offline before that.
    late = RedisRegistry(redis_url, redis_prefix, ttl=4)
    peer = RedisRegistry(redis_url, redis_prefix, ttl=4)
    await late.start()
    await peer.start()
    user = User(Role.CUSTOMER, next_id())
    await late.add("presence", user, "on-late")
    assert await peer.count("presence", user) == 1
    client = redis.Redis.from_url(redis_url)
    client.delete(f"{redis_prefix}:node:{late.node}")
    client.close()
    seen_by_peer: Changes = []
    try:
        peer._counts.clear()
        assert await peer.count("presence", user) == 1  # late, not known dead
        peer._last_read.clear()  # even for a node that never read them while the key lived
        assert await peer.count("presence", user) == 1
        # A tab on the peer opens and closes: not the user's first nor last connection.
        assert await peer.add("presence", user, "on-peer") is False
        assert await peer.remove("presence", user, "on-peer") is False
        async with running(peer, seen_by_peer):

            async def released() -> bool:
                return ("presence", user, False) in seen_by_peer

            await until(released)
        peer._counts.clear()
        assert await peer.count("presence", user) == 0
        assert seen_by_peer == [("presence", user, False)]
    finally:
        await late.close()
        await peer.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def test_a_hung_redis_is_not_waited_for(own_redis: RedisServer) -> None:
    """Paused: a count answers from what the node knows, after SLYCHAT_REDIS_TIMEOUT, and
    the next ones do not ask Redis at all until the heartbeat hears it again."""
    registry = RedisRegistry(own_redis.url, "faults", ttl=4, timeout=0.1)
    await registry.start()
    here, there = User(Role.VENDOR, next_id()), User(Role.CUSTOMER, next_id())
    await registry.add("presence", here, "sid-1")
    registry._last_read[("presence", there)] = 1  # read before the pause
    changes: Changes = []
    try:
        own_redis.pause()
        assert await registry.count("presence", here) == 1  # its own connection
        assert registry.outage.down
        assert await registry.count("presence", there) == 1  # the count read last
        failures = registry.failures
        for _ in range(20):
            await registry.count("presence", there)
        assert registry.failures == failures  # not asked again
        own_redis.resume()
        async with running(registry, changes):

            async def healed() -> bool:
                return not registry.outage.down

            await until(healed)
        assert changes == []
    finally:
        if own_redis.paused:
            own_redis.resume()
        await registry.close()


async def test_a_user_read_only_while_settling_is_known_through_the_next_pause(
    own_redis: RedisServer,
) -> None:
    """Just after Redis came back (a restart), counts are settling; a user this node read
    only then still counts as what was read when Redis pauses right after (the fault
    suite's restart-then-pause, which recorded connected recipients as away)."""
    registry = RedisRegistry(own_redis.url, "settling", ttl=4, timeout=0.1)
    peer = RedisRegistry(own_redis.url, "settling", ttl=4, timeout=0.1)
    await registry.start()
    await peer.start()
    there = User(Role.CUSTOMER, next_id())
    await peer.add("presence", there, "sid-1")
    registry._settling_until = asyncio.get_running_loop().time() + 60  # as after an outage
    try:
        assert await registry.count("presence", there) == 1
        own_redis.pause()
        assert await registry.count("presence", there) == 1
    finally:
        if own_redis.paused:
            own_redis.resume()
        await registry.close()
        await peer.close()


async def test_the_loop_stops_when_a_call_turns_its_cancellation_into_an_error(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled heartbeat loop ends even if the Redis call it was in answered the
    cancellation with an error of its own (which the loop takes for an outage)."""
    registry = RedisRegistry(redis_url, redis_prefix, ttl=2)
    await registry.start()
    sweeping, swallow = asyncio.Event(), True

    async def sweep_that_swallows(_on_change: Any) -> None:
        sweeping.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            if not swallow:
                raise
            raise redis.RedisError("Connection closed by server.") from None

    async def on_change(_kind: str, _user: User, _online: bool) -> None:
        pass

    monkeypatch.setattr(registry, "_sweep", sweep_that_swallows)
    task = asyncio.create_task(registry.run(on_change))
    try:
        await sweeping.wait()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert task in done, "the loop went on after its cancel"
        assert task.cancelled()
    finally:
        swallow = False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await registry.close()
