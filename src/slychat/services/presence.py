"""Who is online, when they were last seen, and who may know it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from slychat.domain.errors import Forbidden
from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.realtime.base import ConnectionRegistry
from slychat.services.block_cache import BlockCache
from slychat.services.events import EventSink, PresenceChanged
from slychat.storage import repository as repo
from slychat.storage.database import Database

PRESENCE = "presence"
CHAT = "chat"
# An engine.io connection that opened a namespace as the user: what the per-user cap counts
# (one per connection, however many namespaces it opens or leaves), until it closes.
CONNECTION = "connection"


@dataclass(frozen=True, slots=True)
class PresenceStatus:
    user: User
    online: bool
    last_seen: int | None


class PresenceService:
    def __init__(
        self,
        db: Database,
        registry: ConnectionRegistry,
        sink: EventSink,
        blocks: BlockCache | None = None,
    ) -> None:
        self.db = db
        self.blocks = blocks or BlockCache()  # none: a service on its own (tests, the CLI)
        self.registry = registry
        self.sink = sink
        self._users_of: dict[str, set[User]] = {}  # engine.io session id -> users it counts for

    async def admit_connection(self, user: User, connection: str, cap: int) -> bool:
        """Count the engine.io connection `connection` as one of the user's until
        `connection_closed`; False, counting nothing, when the user already holds `cap`
        (on every node, with Redis). A connection already counted for the user passes."""
        users = self._users_of.get(connection)
        if users is not None and user in users:
            return True
        if await self.registry.count(CONNECTION, user) >= cap:
            return False
        self._users_of.setdefault(connection, set()).add(user)
        await self.registry.add(CONNECTION, user, connection)
        if user not in self._users_of.get(connection, ()):
            # The connection closed while it was being counted: not counted any more.
            await self.registry.remove(CONNECTION, user, connection)
        return True

    async def connection_closed(self, connection: str) -> None:
        """The engine.io connection closed: it no longer counts for anyone."""
        for user in self._users_of.pop(connection, ()):
            await self.registry.remove(CONNECTION, user, connection)

    async def connected(self, user: User, sid: str) -> bool:
        """A /presence connection opened; True when the user just came online."""
        return await self.registry.add(PRESENCE, user, sid)

    async def disconnected(self, user: User, sid: str) -> None:
        """A /presence connection closed: the user went offline if it was their last."""
        if await self.registry.remove(PRESENCE, user, sid):
            await self.went_offline(user)

    async def went_offline(self, user: User) -> None:
        """Store lastSeen for a user whose last connection is gone, and announce it."""
        seen = now_ms()
        await self.db.write(lambda conn: repo.save_last_seen(conn, user, seen))
        await self.sink([PresenceChanged(user, False, seen, await self._audience(user))])

    async def announce_online(self, user: User) -> None:
        """The user came online: those sharing a chat with them hear of it."""
        await self.sink([PresenceChanged(user, True, None, await self._audience(user))])

    async def changed(self, kind: str, user: User, online: bool) -> None:
        """A change the registry noticed on its own: a dead node's users went offline, or
        this node's users are back after Redis lost them."""
        if kind != PRESENCE:
            return
        if online:
            await self.announce_online(user)
        else:
            await self.went_offline(user)

    async def connections(self, user: User, kind: str) -> int:
        """How many connections of `kind` (PRESENCE or CHAT) the user holds."""
        return await self.registry.count(kind, user)

    async def is_online(self, user: User) -> bool:
        return await self.registry.count(PRESENCE, user) > 0

    async def wait_online(self, user: User, grace: float, still_wanted: Callable[[], bool]) -> bool:
        """Whether `user` is online, waiting up to `grace` seconds for a /presence
        handshake that races this one; gives up early once `still_wanted()` is false."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while not await self.is_online(user):
            if loop.time() >= deadline or not still_wanted():
                return False
            await asyncio.sleep(0.02)
        return True

    async def chat_opened(self, user: User, sid: str) -> None:
        await self.registry.add(CHAT, user, sid)

    async def chat_closed(self, user: User, sid: str) -> None:
        await self.registry.remove(CHAT, user, sid)

    async def has_chat_socket(self, user: User) -> bool:
        """Whether a message emitted to `user` now reaches at least one of their sockets."""
        return await self.registry.count(CHAT, user) > 0

    async def status(self, asker: User, target: User) -> PresenceStatus:
        """Anyone may see a vendor; a customer is visible to themselves, admins and the
        vendors who share a chat with them. Between two users of whom one blocks the
        other, each reads offline, never seen."""
        if target.role is Role.CUSTOMER and asker != target and asker.role is not Role.ADMIN:
            allowed = asker.role is Role.VENDOR and await self._shares_chat(asker, target)
            if not allowed:
                raise Forbidden("You may not see this customer's presence")
        if self.blocks.between(asker, target):
            return PresenceStatus(target, False, None)
        online = await self.is_online(target)
        async with self.db.read() as conn:
            seen = await repo.load_last_seen(conn, target)
        return PresenceStatus(target, online, seen)

    async def _shares_chat(self, vendor: User, customer: User) -> bool:
        async with self.db.read() as conn:
            return await repo.shares_chat(conn, vendor.id, customer.id)

    async def _audience(self, user: User) -> tuple[User, ...]:
        """Who hears of the user's presence: everyone sharing a chat with them, but those
        the user blocks or is blocked by."""
        if user.role is Role.ADMIN:
            return ()
        async with self.db.read() as conn:
            others = await repo.counterparts_of(conn, user)
        return tuple(other for other in others if not self.blocks.between(user, other))
