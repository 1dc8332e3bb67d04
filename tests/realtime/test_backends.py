"""What every backend of the state shared between nodes promises, whichever it is: each
test runs on the in-memory backend and on Redis (the machine's, under a fresh key
prefix), through one parametrized fixture per interface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from slychat.domain.identity import Role, User
from slychat.realtime.base import ConnectionRegistry
from slychat.realtime.memory import MemoryRegistry
from slychat.realtime.ratelimit import Limiter, MemoryLimiter, Rate, RedisLimiter
from slychat.realtime.redis import RedisRegistry
from tests.support import next_id

BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[ConnectionRegistry]:
    made: ConnectionRegistry
    if request.param == "memory":
        made = MemoryRegistry()
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = RedisRegistry(url, prefix, ttl=30)
    await made.start()
    try:
        yield made
    finally:
        await made.close()


@dataclass
class Buckets:
    limiter: Limiter
    slack: float  # how far a wait may be from its exact value: Redis's clock moves meanwhile


class FrozenClock:
    def __call__(self) -> float:
        return 1000.0


@pytest.fixture(params=BACKENDS)
async def buckets(request: pytest.FixtureRequest) -> AsyncIterator[Buckets]:
    if request.param == "memory":
        made = Buckets(MemoryLimiter(FrozenClock()), slack=0.0)
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = Buckets(RedisLimiter(url, prefix), slack=1.0)
    try:
        yield made
    finally:
        await made.limiter.close()


def _user(role: Role = Role.CUSTOMER) -> User:
    return User(role, next_id())


# --- ConnectionRegistry ---------------------------------------------------------------------


async def test_the_first_and_the_last_connection_are_told(registry: ConnectionRegistry) -> None:
    user = _user()
    assert await registry.add("presence", user, "s1") is True
    assert await registry.add("presence", user, "s2") is False
    assert await registry.count("presence", user) == 2
    assert await registry.remove("presence", user, "s1") is False
    assert await registry.remove("presence", user, "s2") is True
    assert await registry.count("presence", user) == 0


async def test_repeating_an_add_or_a_remove_is_harmless(registry: ConnectionRegistry) -> None:
    user = _user()
    assert await registry.add("chat", user, "s1") is True
    assert await registry.add("chat", user, "s1") is False
    assert await registry.count("chat", user) == 1
    assert await registry.remove("chat", user, "s1") is True
    assert await registry.remove("chat", user, "s1") is False
    assert await registry.remove("chat", user, "never") is False
    assert await registry.count("chat", user) == 0


async def test_kinds_and_users_are_counted_apart(registry: ConnectionRegistry) -> None:
    customer = _user(Role.CUSTOMER)
    vendor = User(Role.VENDOR, customer.id)  # the same id, another person
    assert await registry.add("presence", customer, "s1") is True
    assert await registry.add("chat", customer, "s2") is True  # first of its kind
    assert await registry.add("presence", vendor, "s3") is True
    assert await registry.count("presence", customer) == 1
    assert await registry.count("chat", customer) == 1
    assert await registry.count("chat", vendor) == 0
    assert await registry.remove("presence", customer, "s1") is True
    assert await registry.count("presence", vendor) == 1


async def test_a_reachable_backend_answers_its_ping(registry: ConnectionRegistry) -> None:
    await registry.ping()


# --- Limiter ----------------------------------------------------------------------------------


async def test_a_burst_is_allowed_then_the_wait_is_one_interval(buckets: Buckets) -> None:
    rate = Rate.parse("1/h:3")
    key = f"msg:{next_id()}"
    assert [await buckets.limiter.take((key, rate)) for _ in range(3)] == [0.0] * 3
    wait = await buckets.limiter.take((key, rate))
    assert wait == pytest.approx(3600.0, abs=buckets.slack)
    assert wait <= 3600.0


async def test_keys_have_their_own_buckets(buckets: Buckets) -> None:
    rate = Rate.parse("1/m")
    a, b = f"a:{next_id()}", f"b:{next_id()}"
    assert await buckets.limiter.take((a, rate)) == 0.0
    assert await buckets.limiter.take((a, rate)) == pytest.approx(60.0, abs=buckets.slack)
    assert await buckets.limiter.take((b, rate)) == 0.0


async def test_a_take_of_several_buckets_is_all_or_none(buckets: Buckets) -> None:
    plenty, scarce = Rate.parse("100/h:10"), Rate.parse("1/m")
    p, s = f"plenty:{next_id()}", f"scarce:{next_id()}"
    assert await buckets.limiter.take((s, scarce)) == 0.0
    # `scarce` is empty: `plenty` is not spent either, and the wait is the longer one.
    for _ in range(15):
        wait = await buckets.limiter.take((p, plenty), (s, scarce))
        assert wait == pytest.approx(60.0, abs=buckets.slack)
    assert [await buckets.limiter.take((p, plenty)) for _ in range(10)] == [0.0] * 10
