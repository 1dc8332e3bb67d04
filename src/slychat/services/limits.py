"""What each client action costs: which buckets it spends, and whose.

The transport checks events and uploads before anything is read or stored; the message
service checks a new chat once it knows the message would create one. A refusal is
`RateLimited` (429, with the seconds until the action would be allowed).
"""

from __future__ import annotations

from dataclasses import dataclass

from slychat.domain.errors import RateLimited
from slychat.domain.identity import User
from slychat.realtime.ratelimit import Bucket, Limiter, Rate, spend


@dataclass(frozen=True, slots=True)
class Rates:
    """Each limit's rate; None turns that limit off."""

    messages: Rate | None = None  # sendMessage and uploads, per user
    typing: Rate | None = None  # typing and stoppedTyping, per user
    uploads: Rate | None = None  # upload requests, per user
    new_chats: Rate | None = None  # chats started, per user
    events: Rate | None = None  # any event, per connection (kept by the connection)
    handshakes: Rate | None = None  # engine.io handshakes, per client address
    admin: Rate | None = None  # admin API requests, per API key


class Limits:
    def __init__(self, limiter: Limiter, rates: Rates) -> None:
        self.limiter = limiter
        self.rates = rates
        self.refused = 0  # actions refused, for /metrics

    async def message(self, user: User) -> None:
        await self._take("Too many messages", _bucket("msg", user, self.rates.messages))

    async def typing(self, user: User) -> None:
        await self._take("Too many typing notices", _bucket("typ", user, self.rates.typing))

    async def upload(self, user: User) -> None:
        """An upload is also a message: it spends one of each, or neither."""
        await self._take(
            "Too many uploads",
            _bucket("upl", user, self.rates.uploads),
            _bucket("msg", user, self.rates.messages),
        )

    async def request(self, user: User) -> None:
        """An HTTP request of a user (the chat routes): the per-connection event rate,
        kept per user, since a request has no connection (shared by every node with Redis)."""
        await self._take("Too many requests", _bucket("req", user, self.rates.events))

    async def api_key(self, key_id: str) -> None:
        """A request of the admin API, per API key (shared by every node with Redis)."""
        rate = self.rates.admin
        await self._take("Too many requests", None if rate is None else (f"key:{key_id}", rate))

    async def new_chat(self, user: User) -> None:
        await self._take("Too many new chats", _bucket("new", user, self.rates.new_chats))

    async def handshake(self, address: str) -> None:
        rate = self.rates.handshakes
        await self._take(
            "Too many connection attempts", None if rate is None else (f"ip:{address}", rate)
        )

    def event(self, full_at: float, now: float) -> float:
        """One event of a connection whose own bucket is full at `full_at`: the bucket's
        new full-at. It lives on the connection, in memory: a connection is on one node."""
        rate = self.rates.events
        if rate is None:
            return full_at
        full_at, wait = spend(full_at, now, rate)
        if wait:
            self.refused += 1
            raise RateLimited(wait, "Too many events on this connection")
        return full_at

    async def _take(self, what: str, *buckets: Bucket | None) -> None:
        spent = tuple(b for b in buckets if b is not None)
        if not spent:
            return
        wait = await self.limiter.take(*spent)
        if wait:
            self.refused += 1
            raise RateLimited(wait, what)


def _bucket(action: str, user: User, rate: Rate | None) -> Bucket | None:
    return None if rate is None else (f"{action}:{user.role.value}:{user.id}", rate)
