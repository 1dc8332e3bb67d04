"""Connection registry shared by every node through Redis.

Each node announces itself with a key that expires unless its heartbeat renews it. A
user's connections are a hash of `<node>:<sid>` fields; only fields of live nodes count,
so a node killed with SIGKILL stops counting its users as soon as its key expires, and a
sweep on a surviving node then reports those users offline. Every node also keeps its own
connections in memory: it answers from them while Redis is unreachable and writes them all
back when Redis returns (or lost its data).

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
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from slychat.identity import Role, User
from slychat.realtime.base import PresenceChange
from slychat.realtime.memory import MemoryRegistry

log = logging.getLogger(__name__)
# A remembered count is trusted this long even if its change announcement got lost.
_REMEMBER_SECONDS = 5.0

# KEYS[1]: the user's connection hash. ARGV: op (add|remove|count), field, node,
# alive-key prefix. Returns {changed, live}: whether the field was added/removed, and how
# many fields of live nodes remain (fields of dead nodes are dropped on the way).
_SCRIPT = """
local changed = 0
if ARGV[1] == 'add' then
  changed = redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
elseif ARGV[1] == 'remove' then
  changed = redis.call('HDEL', KEYS[1], ARGV[2])
end
local live = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[4] .. all[i + 1]) == 1 then
    live = live + 1
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return {changed, live}
"""


class RedisRegistry:
    def __init__(self, url: str, prefix: str, ttl: float, node_id: str | None = None) -> None:
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=10
        )
        self.prefix = prefix
        self.node = node_id or uuid.uuid4().hex[:12]
        # A node is alive while its key exists: half the TTL, renewed every quarter, so a
        # dead node is noticed and swept well within the TTL.
        self.alive_ttl = max(1, round(ttl / 2))
        self.heartbeat = ttl / 4
        self.sweep_every = ttl / 8
        self.local = MemoryRegistry()
        self.failures = 0
        self._script = self.redis.register_script(_SCRIPT)
        self._counts: dict[tuple[str, User], tuple[int, float]] = {}  # count, read at
        self._changes = 0  # announcements seen: a read that overlapped one is not kept
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False  # counts are remembered only while changes are heard

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _conn_key(self, kind: str, user: User) -> str:
        return self._key("conn", kind, user.role.value, str(user.id))

    def _member(self, kind: str, user: User, sid: str) -> str:
        return f"{kind}|{user.role.value}|{user.id}|{sid}"

    async def _run(self, op: str, kind: str, user: User, field: str) -> tuple[int, int]:
        changed, live = await self._script(
            keys=[self._conn_key(kind, user)], args=[op, field, self.node, self._key("node", "")]
        )
        return int(changed), int(live)

    def _failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        log.warning("redis unavailable during %s (failure %d): %s", what, self.failures, exc)

    async def _announce(self, kind: str, user: User) -> None:
        self._forget(kind, user)
        await self.redis.publish(self._key("changes"), self._member(kind, user, ""))

    def _forget(self, kind: str, user: User) -> None:
        self._changes += 1
        self._counts.pop((kind, user), None)

    async def add(self, kind: str, user: User, sid: str) -> bool:
        first_here = await self.local.add(kind, user, sid)
        try:
            await self.redis.sadd(self._key("nodeconns", self.node), self._member(kind, user, sid))
            _changed, live = await self._run("add", kind, user, f"{self.node}:{sid}")
            await self._announce(kind, user)
            return live == 1
        except (RedisError, OSError) as exc:
            self._failed("add", exc)
            return first_here

    async def remove(self, kind: str, user: User, sid: str) -> bool:
        last_here = await self.local.remove(kind, user, sid)
        try:
            await self.redis.srem(self._key("nodeconns", self.node), self._member(kind, user, sid))
            changed, live = await self._run("remove", kind, user, f"{self.node}:{sid}")
            await self._announce(kind, user)
            return changed == 1 and live == 0
        except (RedisError, OSError) as exc:
            self._failed("remove", exc)
            return last_here

    async def count(self, kind: str, user: User) -> int:
        loop = asyncio.get_running_loop()
        remembered = self._counts.get((kind, user))
        if remembered is not None and loop.time() - remembered[1] < _REMEMBER_SECONDS:
            return remembered[0]
        changes = self._changes
        try:
            live = (await self._run("count", kind, user, ""))[1]
        except (RedisError, OSError) as exc:
            self._failed("count", exc)
            return await self.local.count(kind, user)
        if changes == self._changes and self._subscribed:
            self._counts[(kind, user)] = (live, loop.time())
        return live

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
            await self.redis.set(self._key("node", self.node), "1", ex=self.alive_ttl)
            await self.redis.sadd(self._key("nodes"), self.node)
        except (RedisError, OSError) as exc:
            self._failed("start", exc)

    async def run(self, on_change: PresenceChange) -> None:
        """Heartbeat and sweep until cancelled; report users whose presence changed
        because a node died or this node came back."""
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        backoff = 1.0
        while True:
            try:
                if loop.time() >= next_beat:
                    await self._beat(on_change)
                    next_beat = loop.time() + self.heartbeat
                await self._sweep(on_change)
                backoff = 1.0
                await asyncio.sleep(self.sweep_every)
            except (RedisError, OSError) as exc:
                self._failed("heartbeat", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _beat(self, on_change: PresenceChange) -> None:
        key = self._key("node", self.node)
        # XX: renew only; a missing key means Redis lost it (restart, or this node was
        # swept after a partition), so every local connection is written back.
        renewed = await self.redis.set(key, "1", ex=self.alive_ttl, xx=True)
        if renewed:
            return
        await self.redis.set(key, "1", ex=self.alive_ttl)
        await self.redis.sadd(self._key("nodes"), self.node)
        for kind, user, sid in self.local.connections():
            await self.redis.sadd(self._key("nodeconns", self.node), self._member(kind, user, sid))
            _changed, live = await self._run("add", kind, user, f"{self.node}:{sid}")
            await self._announce(kind, user)
            if live == 1:
                await on_change(kind, user, True)

    async def _sweep(self, on_change: PresenceChange) -> None:
        for raw in await self.redis.smembers(self._key("nodes")):
            node = raw.decode()
            if node == self.node or await self.redis.exists(self._key("node", node)):
                continue
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
                _changed, live = await self._run("remove", kind, user, f"{node}:{sid}")
                await self._announce(kind, user)
                if live == 0:
                    gone.add((kind, user))
            await self.redis.delete(self._key("nodeconns", node))
            await self.redis.srem(self._key("nodes"), node)
            for kind, user in gone:
                await on_change(kind, user, False)

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        # Leaving cleanly: drop this node at once instead of waiting for the TTL.
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._key("node", self.node))
        await self.redis.aclose()
        await self.local.close()
