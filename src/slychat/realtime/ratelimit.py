"""Token buckets: one process (memory) or every node (Redis).

A bucket is kept as one number, the time at which it is full again (the "theoretical
arrival time" of GCRA): each token taken moves it one interval (`per / count`) later, and
a take is allowed while that time stays within `burst` intervals of now. A bucket whose
time has passed is full, exactly as if it did not exist, so full buckets are dropped:
memory holds only the users who acted within their window.

`take` spends one token from each of several buckets at once, all or none (an upload
spends an upload and a message), and answers 0.0 when they were spent, else the seconds
until they all would be.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from slychat.logs.redaction import describe

log = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smh])\s*(?::\s*(\d+)\s*)?$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
# Float sums drift: the 20th of 20 tokens taken at once must not be refused by 1e-16 s.
_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` tokens per `per` seconds, at most `burst` saved up."""

    count: int
    per: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`<count>/<s|m|h>[:<burst>]`, e.g. `10/s:20`; the burst defaults to the count."""
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"bad rate {text!r}; use <count>/<s|m|h>[:<burst>], e.g. 10/s:20")
        count = int(match.group(1))
        burst = int(match.group(3)) if match.group(3) is not None else count
        if count < 1 or burst < 1:
            raise ValueError(f"bad rate {text!r}: the count and the burst must be at least 1")
        return cls(count, _UNITS[match.group(2)], burst)

    @property
    def interval(self) -> float:
        """Seconds between two tokens."""
        return self.per / self.count

    @property
    def window(self) -> float:
        """Seconds an empty bucket takes to fill up."""
        return self.burst * self.interval


def check_rate(value: str | None) -> str | None:
    """A settings validator: refuses a malformed rate at start (None: the limit is off)."""
    if value is not None:
        Rate.parse(value)
    return value


def spend(full_at: float, now: float, rate: Rate) -> tuple[float, float]:
    """One token from the bucket that is full at `full_at`: (its new full-at, 0.0) when
    there was one, else (`full_at` unchanged, seconds until there is)."""
    taken = (full_at if full_at > now else now) + rate.interval
    over = taken - now - rate.window
    if over > _SLACK:
        return full_at, over
    return taken, 0.0


Bucket = tuple[str, Rate]  # a key (what is limited, and whose) and its rate


class Limiter(Protocol):
    async def take(self, *buckets: Bucket) -> float:
        """One token from each bucket, all or none: 0.0 when taken, else the seconds until
        every bucket would have one."""
        ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """Buckets of this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._full_at: dict[str, float] = {}
        self._sweep_at = _FIRST_SWEEP

    def __len__(self) -> int:
        return len(self._full_at)

    async def take(self, *buckets: Bucket) -> float:
        return self.take_now(buckets)

    def take_now(self, buckets: tuple[Bucket, ...]) -> float:
        now = self.clock()
        held = self._full_at
        wait = 0.0
        taken: list[float] = []
        for key, rate in buckets:
            full_at, short = spend(held.get(key, 0.0), now, rate)
            wait = max(wait, short)
            taken.append(full_at)
        if wait:
            return wait
        for (key, _rate), full_at in zip(buckets, taken, strict=True):
            held[key] = full_at
        if len(held) >= self._sweep_at:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        """Drop full buckets. Runs each time the table doubles since the last sweep, so
        its cost per take stays constant however many users come and go."""
        self._full_at = {k: t for k, t in self._full_at.items() if t > now}
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._full_at))

    async def close(self) -> None:
        self._full_at.clear()


_FIRST_SWEEP = 1024

# KEYS: the buckets. ARGV: each bucket's interval and window, in milliseconds. Returns the
# milliseconds to wait (as a string: Lua would truncate a number), "0" when taken. Times
# are Redis's own clock, so the nodes' clocks never disagree about a bucket. A bucket's
# key expires when the bucket is full again: idle buckets vanish.
_TAKE = """
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 7)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait = 0
local taken = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local full_at = tonumber(redis.call('GET', key) or '0')
  if full_at < now then full_at = now end
  taken[i] = full_at + interval
  local over = taken[i] - now - tonumber(ARGV[2 * i])
  if over > 0.000001 and over > wait then wait = over end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.3f', taken[i]), 'PX', math.ceil(taken[i] - now))
end
return '0'
"""

# After a failure, takes are allowed without asking Redis for this long: a Redis that
# hangs would otherwise hold every event for the client's timeout.
_QUIET_AFTER_FAILURE = 1.0


class RedisLimiter:
    """Buckets shared by every node: one EVALSHA per take, keys under the deployment's
    prefix.

    If Redis is unreachable the take is allowed (fail open) and counted in `failures`:
    the limiter protects chat from abusers, and its store being down must not stop chat
    for everyone. Limits return with Redis.
    """

    def __init__(self, url: str, prefix: str, timeout: float = 0.1) -> None:
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=10
        )
        self.timeout = timeout  # every take is on an event's path: never wait longer
        self.prefix = f"{prefix}:rate:"
        self.failures = 0  # takes allowed because Redis did not answer
        self._script = self.redis.register_script(_TAKE)
        self._quiet_until = 0.0
        self._failing = False

    async def take(self, *buckets: Bucket) -> float:
        if self._quiet_until and time.monotonic() < self._quiet_until:
            self.failures += 1
            return 0.0
        args: list[float] = []
        for _key, rate in buckets:
            args += (rate.interval * 1000, rate.window * 1000)
        try:
            async with asyncio.timeout(self.timeout):
                wait = await self._script(keys=[self.prefix + key for key, _ in buckets], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return 0.0
        if self._failing:
            self._failing = False
            self._quiet_until = 0.0
            log.warning(
                "rate limits: Redis answers again (%d checks allowed unchecked)", self.failures
            )
        return float(wait) / 1000

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self._quiet_until = time.monotonic() + _QUIET_AFTER_FAILURE
        if not self._failing:  # once per outage, not once per event
            self._failing = True
            log.error(
                "rate limits: Redis unreachable, allowing everything until it returns: %s",
                describe(exc),
            )

    async def close(self) -> None:
        await self.redis.aclose()
