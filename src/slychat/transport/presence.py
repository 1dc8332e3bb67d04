"""The /presence namespace: online while any connection is open, lastSeen when not."""

from __future__ import annotations

from typing import Any

from slychat.identity import Role, User
from slychat.ids import iso
from slychat.services.presence import PRESENCE
from slychat.transport import schemas, wire
from slychat.transport.base import Namespace, Session
from slychat.transport.handshake import authenticate
from slychat.transport.rooms import user_room

_PRESENCE_ROLES = frozenset({Role.CUSTOMER, Role.VENDOR, Role.ADMIN})
CHAT_NAMESPACE = "/chat"


class PresenceNamespace(Namespace):
    events = frozenset({"checkOnlinePresence"})

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        credentials = authenticate(self.c, environ, auth, _PRESENCE_ROLES)
        user = credentials.user
        await self.refuse_over_cap(user, PRESENCE)
        session = Session(
            user, expires_at=credentials.honoured_until, token_id=credentials.token_id
        )
        self.sessions[sid] = session
        # Counted before the handshake completes, so a /chat handshake racing this one
        # finds the user online as early as possible.
        came_online = await self.c.presence.connected(user, sid)
        self.spawn(self._announce_online(sid, user, came_online), user)

    async def _announce_online(self, sid: str, user: User, came_online: bool) -> None:
        body = _online(user)
        await self.emit("userIsOnline", body, to=sid)
        if came_online:
            await self._tell_counterparts("userIsOnline", body, user)

    async def presence_changed(self, kind: str, user: User, online: bool) -> None:
        """A change the registry noticed on its own: a dead node's users went offline, or
        this node's users are back after Redis lost them."""
        if kind != PRESENCE:
            return
        if online:
            await self._tell_counterparts("userIsOnline", _online(user), user)
        else:
            await self.announce_offline(user, await self.c.presence.went_offline(user))

    async def announce_offline(self, user: User, seen: int) -> None:
        body = wire.ok(
            "User is offline",
            {
                "userId": user.id,
                "userType": user.role.value,
                "lastSeen": iso(seen),
            },
        )
        await self._tell_counterparts("userIsOffline", body, user)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.alive = False
        user = session.user
        seen = await self.c.presence.disconnected(user, sid)
        if seen is not None:
            await self.announce_offline(user, seen)

    async def _tell_counterparts(self, event: str, body: wire.Json, user: User) -> None:
        """Presence changes go to the /chat sockets of everyone sharing a chat with `user`."""
        rooms = [user_room(other) for other in await self.c.presence.counterparts(user)]
        if rooms:
            await self.server.emit(event, body, to=rooms, namespace=CHAT_NAMESPACE)

    async def on_checkOnlinePresence(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.CheckOnlinePresence) -> wire.Json:
            status = await self.c.presence.status(session.user, User(p.userType, p.userId))
            body = wire.ok(
                "Presence has been retrieved",
                {
                    "userId": status.user.id,
                    "userType": status.user.role.value,
                    "status": "online" if status.online else "offline",
                    "lastSeen": iso(status.last_seen),
                },
            )
            await self.emit("onlinePresence", body, to=sid)
            return body

        return await self.handle(sid, args, schemas.CheckOnlinePresence, action)


def _online(user: User) -> wire.Json:
    return wire.ok("User is online", {"userId": user.id, "userType": user.role.value})
