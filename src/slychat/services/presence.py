"""Who is online, when they were last seen, and who may know it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from slychat.errors import Forbidden
from slychat.identity import Role, User
from slychat.ids import now_ms
from slychat.realtime.base import ConnectionRegistry
from slychat.storage import repository as repo
from slychat.storage.database import Database

PRESENCE = "presence"
CHAT = "chat"


@dataclass(frozen=True, slots=True)
class PresenceStatus:
    user: User
    online: bool
    last_seen: int | None


class PresenceService:
    def __init__(self, db: Database, registry: ConnectionRegistry) -> None:
        self.db = db
        self.registry = registry

    async def connected(self, user: User, sid: str) -> bool:
        """A /presence connection opened; True when the user just came online."""
        return await self.registry.add(PRESENCE, user, sid)

    async def disconnected(self, user: User, sid: str) -> int | None:
        """A /presence connection closed; the stored lastSeen when the user went offline."""
        if not await self.registry.remove(PRESENCE, user, sid):
            return None
        return await self.went_offline(user)

    async def went_offline(self, user: User) -> int:
        """Store and return lastSeen for a user whose last connection is gone."""
        seen = now_ms()
        await self.db.write(lambda conn: repo.save_last_seen(conn, user, seen))
        return seen

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
        vendors who share a chat with them."""
        if target.role is Role.CUSTOMER and asker != target and asker.role is not Role.ADMIN:
            allowed = asker.role is Role.VENDOR and await self._shares_chat(asker, target)
            if not allowed:
                raise Forbidden("You may not see this customer's presence")
        online = await self.is_online(target)
        async with self.db.read() as conn:
            seen = await repo.load_last_seen(conn, target)
        return PresenceStatus(target, online, seen)

    async def _shares_chat(self, vendor: User, customer: User) -> bool:
        async with self.db.read() as conn:
            return await repo.shares_chat(conn, vendor.id, customer.id)

    async def counterparts(self, user: User) -> list[User]:
        if user.role is Role.ADMIN:
            return []
        async with self.db.read() as conn:
            return await repo.counterparts_of(conn, user)
