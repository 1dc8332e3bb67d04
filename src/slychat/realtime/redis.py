"""Connection registry shared by every node through Redis.

Each node announces itself with a key that expires unless its heartbeat renews it. A
user's connections are a hash of `<node>:<sid>` fields; only fields of live nodes count.
A node whose key is missing may be dead or only late (paused, starved, or Redis was): a
surviving node's sweep gives it a quarter of the TTL to renew, then releases its fields
and reports those users offline. Until then its users are neither counted gone nor
announced: a count includes such fields. Every node
also keeps its own connections in memory: it answers from them while Redis is unreachable
and writes them all back when Redis returns (or lost its data).

Counts are asked on every message sent (is the recipient online, does a socket of theirs
receive it now?), so each node remembers the counts it read. Every change of a user's
connections is announced on a channel, and every node then forgets what it remembered of
that user; a remembered count is also forgotten after a few seconds, and everything is
forgotten whenever the channel's subscription is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from typing import Any, NamedTuple, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from slychat.domain.identity import Role, User
from slychat.logs.outages import Outage
from slychat.logs.redaction import describe
from slychat.realtime.base import PresenceChange
from slychat.realtime.memory import MemoryRegistry

log = logging.getLogger(__name__)
T = TypeVar("T")
# A remembered count is trusted this long even if its change announcement got lost.
_REMEMBER_SECONDS = 5.0
# Users whose last count is kept for when Redis is away (then forgotten all at once).
_LAST_READ_LIMIT = 100_000
# What a call to a Redis that is down, hung or restarting raises.
_FAILURES = (RedisError, OSError, TimeoutError)

# KEYS[1]: the user's connection hash. ARGV: op (add|remove|count), field, node,
# alive-key prefix. Returns {changed, live, stale}: whether the field was added/removed,
# how many fields of live nodes remain, and how many of nodes whose key is missing (dead
# or late: the sweep releases them).
_SCRIPT = """
local changed = 0
if ARGV[1] == 'add' then
  changed = redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
elseif ARGV[1] == 'remove' then
  changed = redis.call('HDEL', KEYS[1], ARGV[2])
end
local live, stale = 0, 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[4] .. all[i + 1]) == 1 then
    live = live + 1
  else
    stale = stale + 1
  end
end
return {changed, live, stale}
"""


class _Tally(NamedTuple):
    changed: int  # 1 if the field was added or removed
    live: int  # fields of live nodes
    stale: int  # fields of nodes whose key is missing, not released yet

    @property
    def first(self) -> bool:
        """An add that made the user's first connection (not a repeated add, and no
        late node still holds one of theirs)."""
        return self.changed == 1 and self.live == 1 and self.stale == 0

    @property
    def last(self) -> bool:
        return self.changed == 1 and self.live == 0 and self.stale == 0


class RedisRegistry:
    def __init__(
        self,
        url: str,
        prefix: str,
        ttl: float,
        node_id: str | None = None,
        timeout: float = 0.1,
    ) -> None:
        # Maintenance calls (heartbeat, sweep) may take up to a second; the send path's
        # lookups are bounded by `timeout` on their own (`count`).
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=10
        )
        self.timeout = timeout
        self.prefix = prefix
        self.node = node_id or uuid.uuid4().hex[:12]
        # A node is alive while its key exists: half the TTL, renewed every quarter. A key
        # found missing is only believed once it stayed missing for another quarter: a
        # node whose Redis paused renews it as soon as Redis answers again, well before.
        # A node that died is released within 1/2 + 1/4 + 1/8 (a sweep's period) of TTL.
        self.alive_ms = max(1000, round(ttl * 500))
        self.alive_ttl = max(1, round(ttl / 2))  # seconds, for the sweep's own key
        self.heartbeat = ttl / 4
        self.sweep_every = ttl / 8
        self.dead_after = ttl / 4
        self._missing: dict[str, float] = {}  # peer -> when its key was first found missing
        self.local = MemoryRegistry()
        self.failures = 0
        self.outage = Outage("redis")
        self._dirty = False  # a write failed: this node's connections are written back
        self._settling_until = 0.0  # loop time until which counts are not trusted lower
        self._script = self.redis.register_script(_SCRIPT)
        self._counts: dict[tuple[str, User], tuple[int, float]] = {}  # count, read at
        # The count last read of each user, answered while Redis is away.
        self._last_read: dict[tuple[str, User], int] = {}
        self._changes = 0  # announcements seen: a read that overlapped one is not kept
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False  # counts are remembered only while changes are heard

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _conn_key(self, kind: str, user: User) -> str:
        return self._key("conn", kind, user.role.value, str(user.id))

    def _member(self, kind: str, user: User, sid: str) -> str:
        return f"{kind}|{user.role.value}|{user.id}|{sid}"

    async def _run(self, op: str, kind: str, user: User, field: str) -> _Tally:
        changed, live, stale = await self._script(
            keys=[self._conn_key(kind, user)], args=[op, field, self.node, self._key("node", "")]
        )
        return _Tally(int(changed), int(live), int(stale))

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self.outage.failed(f"{what}: {describe(exc)}")

    async def _announce(self, kind: str, user: User) -> None:
        self._forget(kind, user)
        await self.redis.publish(self._key("changes"), self._member(kind, user, ""))

    def _forget(self, kind: str, user: User) -> None:
        self._changes += 1
        self._counts.pop((kind, user), None)

    async def _bounded(self, work: Awaitable[T]) -> T:
        """`work`, given up after `timeout`: a hung Redis must not hold a handshake or a
        send (redis-py drops a connection whose command was cancelled)."""
        async with asyncio.timeout(self.timeout):
            return await work

    async def _change(self, op: str, kind: str, user: User, sid: str) -> _Tally:
        member = self._member(kind, user, sid)
        if op == "add":
            await self.redis.sadd(self._key("nodeconns", self.node), member)
        else:
            await self.redis.srem(self._key("nodeconns", self.node), member)
        tally = await self._run(op, kind, user, f"{self.node}:{sid}")
        await self._announce(kind, user)
        return tally

    async def add(self, kind: str, user: User, sid: str) -> bool:
        first_here = await self.local.add(kind, user, sid)
        if self.outage.down:  # the heartbeat writes it back when Redis returns
            self._dirty = True
            return first_here
        try:
            tally = await self._bounded(self._change("add", kind, user, sid))
        except _FAILURES as exc:
            self._dirty = True
            self._failed("add", exc)
            return first_here
        return tally.first

    async def remove(self, kind: str, user: User, sid: str) -> bool:
        last_here = await self.local.remove(kind, user, sid)
        if self.outage.down:
            self._dirty = True
            return last_here
        try:
            tally = await self._bounded(self._change("remove", kind, user, sid))
        except _FAILURES as exc:
            self._dirty = True
            self._failed("remove", exc)
            return last_here
        return tally.last

    async def count(self, kind: str, user: User) -> int:
        """How many live connections; while Redis does not answer within `timeout` (or is
        known to be away), the best this node knows: its own connections, or the count it
        last read, whichever is larger. Never a wait: presence unknown means "deliver,
        and let sync cover it"."""
        loop = asyncio.get_running_loop()
        remembered = self._counts.get((kind, user))
        if remembered is not None and loop.time() - remembered[1] < _REMEMBER_SECONDS:
            return remembered[0]
        if self.outage.down:
            return await self._best_known(kind, user)
        changes = self._changes
        try:
            tally = await self._bounded(self._run("count", kind, user, ""))
        except _FAILURES as exc:
            self._failed("count", exc)
            return await self._best_known(kind, user)
        # A late node's connections count until the sweep releases them (and announces
        # their users offline): the node may only be paused, and this node may never have
        # read them before its key went missing.
        live = tally.live + tally.stale
        if tally.stale or loop.time() < self._settling_until:
            # Not remembered for the next reads: the sweep may release them any moment.
            # Redis may also have just come back, maybe empty, before the other nodes
            # wrote their connections back: no lower than what was known.
            live = max(live, await self._best_known(kind, user))
        elif changes == self._changes and self._subscribed:
            self._counts[(kind, user)] = (live, loop.time())
        # Kept whatever the read was, for when Redis goes away next: a node that only
        # read a user while settling (a pause right after a restart) still knows them.
        if len(self._last_read) > _LAST_READ_LIMIT:
            self._last_read.clear()
        self._last_read[(kind, user)] = live
        return live

    async def _best_known(self, kind: str, user: User) -> int:
        here = await self.local.count(kind, user)
        return max(here, self._last_read.get((kind, user), 0))

    async def _listen(self) -> None:
        """Forget remembered counts as other nodes announce changes, until cancelled."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._key("changes"))
                self._subscribed = True
                while True:
                    # A bounded wait: `listen()` blocks on one read, which the client's
                    # socket_timeout ends as a failure whenever the channel is quiet for
                    # that long; this returns None instead, and pings the connection
                    # every health_check_interval.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message["type"] != "message":
                        continue
                    kind, role, uid, _sid = message["data"].decode().split("|", 3)
                    self._forget(kind, User(Role(role), int(uid)))
            except (RedisError, OSError) as exc:
                self._failed("listening for presence changes", exc)
            finally:
                self._subscribed = False
                self._counts.clear()  # changes may have been missed meanwhile
                self._changes += 1
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(1.0)

    async def start(self) -> None:
        """Announce this node before it serves anyone (its fields only count while its
        key exists); if Redis is down, the heartbeat does it when Redis returns."""
        self._listener = asyncio.create_task(self._listen())
        try:
            await self.redis.set(self._key("node", self.node), "1", px=self.alive_ms)
            await self.redis.sadd(self._key("nodes"), self.node)
        except (RedisError, OSError) as exc:
            self._failed("start", exc)

    async def run(self, on_change: PresenceChange) -> None:
        """Heartbeat and sweep until cancelled; report users whose presence changed
        because a node died or this node came back."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        next_beat = loop.time() + self.heartbeat
        while True:
            # Asked to stop, though a call may have turned the cancellation into an error of
            # its own that the clause below took for an outage: a test's registry kept
            # sweeping after its cancel for five minutes (once in a full run).
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            try:
                if loop.time() >= next_beat or self.outage.down:
                    was_down = self.outage.down
                    await self._beat(on_change)
                    next_beat = loop.time() + self.heartbeat
                    if was_down:  # every node writes back within its next heartbeat
                        self._settling_until = loop.time() + 2 * self.heartbeat
                    self.outage.ok()
                await self._sweep(on_change)
            except _FAILURES as exc:
                self._failed("heartbeat", exc)
            # Short and steady, never a long backoff: a failing call costs at most the
            # client's 1 s timeout, and this node must renew its key as soon as Redis is
            # back, before a peer takes it for dead.
            await asyncio.sleep(self.sweep_every)

    async def _beat(self, on_change: PresenceChange) -> None:
        key = self._key("node", self.node)
        # XX: renew only; a missing key means Redis lost it (restart, or this node was
        # swept after a partition), so every local connection is written back.
        renewed = await self.redis.set(key, "1", px=self.alive_ms, xx=True)
        if renewed and not self._dirty:
            return
        self._dirty = False
        await self.redis.set(key, "1", px=self.alive_ms)
        await self.redis.sadd(self._key("nodes"), self.node)
        # Only a node that a peer declared dead had its users announced offline: only then
        # are they announced online again. After a Redis restart (or a short pause)
        # nobody was told anything, so nothing is said (presence follows real changes).
        released = await self.redis.delete(self._key("released", self.node))
        here = set(self.local.connections())
        listed = await self.redis.smembers(self._key("nodeconns", self.node))
        for raw in listed:  # connections that closed while Redis was away
            kind, role, uid, sid = raw.decode().split("|", 3)
            if (kind, User(Role(role), int(uid)), sid) not in here:
                await self._change("remove", kind, User(Role(role), int(uid)), sid)
        for kind, user, sid in here:
            if (await self._change("add", kind, user, sid)).live == 1 and released:
                await on_change(kind, user, True)

    async def _sweep(self, on_change: PresenceChange) -> None:
        now = asyncio.get_running_loop().time()
        for raw in await self.redis.smembers(self._key("nodes")):
            node = raw.decode()
            if node == self.node or await self.redis.exists(self._key("node", node)):
                self._missing.pop(node, None)
                continue
            if now - self._missing.setdefault(node, now) < self.dead_after:
                continue  # maybe only paused (or Redis was): give it time to renew
            # One surviving node sweeps each dead one.
            if not await self.redis.set(
                self._key("sweep", node), self.node, nx=True, ex=self.alive_ttl * 4
            ):
                continue
            log.warning("node %s stopped its heartbeat; releasing its connections", node)
            gone: set[tuple[str, User]] = set()
            for member in await self.redis.smembers(self._key("nodeconns", node)):
                kind, role, uid, sid = member.decode().split("|", 3)
                user = User(Role(role), int(uid))
                tally = await self._run("remove", kind, user, f"{node}:{sid}")
                await self._announce(kind, user)
                if tally.live == 0 and tally.stale == 0:
                    gone.add((kind, user))
            await self.redis.delete(self._key("nodeconns", node))
            await self.redis.srem(self._key("nodes"), node)
            # If it was only cut off, it announces its users online again when it returns.
            await self.redis.set(self._key("released", node), self.node, ex=86400)
            self._missing.pop(node, None)
            for kind, user in gone:
                await on_change(kind, user, False)

    async def ping(self) -> None:
        # Only the heartbeat ends an outage: it writes this node's connections back first.
        await self.redis.ping()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        # Leaving cleanly: drop this node at once instead of waiting for the TTL.
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._key("node", self.node))
        await self.redis.aclose()
        await self.local.close()
