"""Token buckets: the rate format, refill and burst on a clock of the test's, the memory
bound, and the Redis buckets shared by two limiters (real Redis). What every limiter
promises (separate keys, all-or-none takes) is in test_backends.py."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pydantic import ValidationError

from slychat.config.settings import Settings
from slychat.domain.errors import RateLimited
from slychat.domain.identity import Role, User
from slychat.realtime.ratelimit import MemoryLimiter, Rate, RedisLimiter
from slychat.services.limits import Limits, Rates
from tests.support import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/s:20", Rate(10, 1.0, 20)),
        ("4/m", Rate(4, 60.0, 4)),
        ("20/h:20", Rate(20, 3600.0, 20)),
        (" 30 / s : 60 ", Rate(30, 1.0, 60)),
    ],
)
def test_rates_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "10", "10/x", "10/s:", "0/s", "10/s:0", "a/s", "-1/s"])
def test_malformed_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad rate"):
        Rate.parse(text)


def test_a_malformed_rate_setting_fails_at_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLYCHAT_RATE_TYPING", "fast")
    with pytest.raises(ValidationError, match="rate_typing"):
        Settings()
    monkeypatch.setenv("SLYCHAT_RATE_TYPING", "5/s")
    monkeypatch.setenv("SLYCHAT_RATE_HANDSHAKES_PER_IP", "30/m:60")
    settings = Settings()
    assert (settings.rate_typing, settings.rate_handshakes_per_ip) == ("5/s", "30/m:60")
    assert Settings().rate_limits
    monkeypatch.setenv("SLYCHAT_RATE_LIMITS", "off")
    assert not Settings().rate_limits


async def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = Rate.parse("10/s:20")
    assert [await limiter.take(("k", rate)) for _ in range(20)] == [0.0] * 20
    assert await limiter.take(("k", rate)) == pytest.approx(0.1)

    clock.now += 0.05
    assert await limiter.take(("k", rate)) == pytest.approx(0.05)  # half a token so far
    clock.now += 0.05
    assert await limiter.take(("k", rate)) == 0.0
    assert await limiter.take(("k", rate)) == pytest.approx(0.1)

    clock.now += 60  # idle: the bucket is full again, and no fuller than its burst
    assert [await limiter.take(("k", rate)) for _ in range(21)][-2:] == [0.0, pytest.approx(0.1)]


async def test_full_buckets_are_dropped_so_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = Rate.parse("10/s:20")  # any bucket is full again 2 s after its last take
    for user in range(100_000):
        await limiter.take((f"user:{user}", rate))
        if user % 1000 == 999:
            clock.now += 0.5  # a thousand new users every half second
        # At most the users of the last two seconds (4,000), doubled before a sweep.
        assert len(limiter) <= 10_000
    clock.now += 3
    for user in range(2000):
        await limiter.take((f"late:{user}", rate))
    assert len(limiter) <= 2048


async def test_limits_raise_rate_limited_and_off_means_off() -> None:
    user = User(Role.CUSTOMER, 7)
    limits = Limits(
        MemoryLimiter(Clock()),
        Rates(messages=Rate.parse("2/m"), uploads=Rate.parse("1/m"), events=Rate.parse("1/s")),
    )
    await limits.upload(user)  # an upload is also a message
    await limits.message(user)
    with pytest.raises(RateLimited) as refused:
        await limits.message(user)
    assert refused.value.status_code == 429
    assert refused.value.retry_after == pytest.approx(30.0)
    assert limits.refused == 1
    await limits.typing(user)  # no typing rate: not limited
    await limits.new_chat(user)

    full_at = limits.event(0.0, 100.0)
    with pytest.raises(RateLimited, match="events"):
        limits.event(full_at, 100.0)
    assert limits.event(full_at, 101.0) > full_at

    off = Limits(MemoryLimiter(), Rates())
    for _ in range(1000):
        await off.message(user)
        await off.handshake("10.0.0.1")
    assert off.event(0.0, 5.0) == 0.0


async def test_redis_buckets_are_shared_between_limiters(redis_url: str, redis_prefix: str) -> None:
    a, b = RedisLimiter(redis_url, redis_prefix), RedisLimiter(redis_url, redis_prefix)
    rate = Rate.parse("2/s:4")  # full again 2 s after the last take
    try:
        taken = [await limiter.take(("msg:CUSTOMER:1", rate)) for limiter in (a, b, a, b)]
        assert taken == [0.0] * 4
        wait = await b.take(("msg:CUSTOMER:1", rate))
        assert 0.4 < wait <= 0.5
        assert await a.take(("msg:CUSTOMER:2", rate)) == 0.0  # another user

        # All or none, across keys.
        assert await a.take(("other", rate), ("msg:CUSTOMER:1", rate)) > 0
        ttl = await a.redis.pttl(f"{redis_prefix}:rate:msg:CUSTOMER:1")
        assert 1500 < ttl <= 2000  # the key lives until the bucket is full again
        assert await a.redis.exists(f"{redis_prefix}:rate:other") == 0

        await asyncio.sleep(0.5)
        assert await a.take(("msg:CUSTOMER:1", rate)) == 0.0  # refilled one token
        assert await b.take(("msg:CUSTOMER:1", rate)) > 0
        assert a.failures == b.failures == 0
    finally:
        await a.close()
        await b.close()


async def test_redis_buckets_of_idle_users_vanish(redis_url: str, redis_prefix: str) -> None:
    limiter = RedisLimiter(redis_url, redis_prefix)
    try:
        await limiter.take(("typ:VENDOR:3", Rate.parse("20/s:2")))
        assert await limiter.redis.exists(f"{redis_prefix}:rate:typ:VENDOR:3") == 1
        await asyncio.sleep(0.2)
        assert await limiter.redis.exists(f"{redis_prefix}:rate:typ:VENDOR:3") == 0
    finally:
        await limiter.close()


async def test_without_redis_everything_is_allowed_and_counted() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
    rate = Rate.parse("1/h")
    try:
        assert [await limiter.take(("k", rate)) for _ in range(5)] == [0.0] * 5
        assert limiter.failures == 5
    finally:
        with contextlib.suppress(Exception):
            await limiter.close()
