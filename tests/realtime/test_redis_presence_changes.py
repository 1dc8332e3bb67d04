"""The Redis registry hears other nodes' presence changes through quiet periods: a change
channel that says nothing for longer than the client's socket timeout (1 s) is not a
failure, and the counts a node remembers are still forgotten when another node changes
them afterwards."""

from __future__ import annotations

import asyncio

from slychat.domain.identity import Role, User
from slychat.realtime.redis import RedisRegistry
from tests.support import next_id


async def test_a_quiet_change_channel_keeps_its_subscription(
    redis_url: str, redis_prefix: str
) -> None:
    here = RedisRegistry(redis_url, redis_prefix, ttl=30)
    there = RedisRegistry(redis_url, redis_prefix, ttl=30)
    await here.start()
    await there.start()
    try:
        user = User(Role.VENDOR, next_id())
        assert await here.count("presence", user) == 0  # read, and remembered
        await asyncio.sleep(6.5)  # quiet for longer than the socket timeout
        assert here.failures == 0
        assert await here.count("presence", user) == 0  # remembered still
        await there.add("presence", user, "sid-1")
        for _ in range(100):  # the announcement makes `here` forget and read again
            if await here.count("presence", user) == 1:
                break
            await asyncio.sleep(0.02)
        assert await here.count("presence", user) == 1
        assert here.failures == 0
    finally:
        await there.remove("presence", user, "sid-1")
        await here.close()
        await there.close()
