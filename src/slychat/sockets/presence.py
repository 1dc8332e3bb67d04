"""The /presence namespace: online while any connection is open, lastSeen when not."""

from __future__ import annotations

from typing import Any

from slychat.domain.identity import Role, User
from slychat.protocol import inbound as schemas
from slychat.protocol import outbound as wire
from slychat.sockets.base import Namespace, Session
from slychat.sockets.tokens import authenticate

_PRESENCE_ROLES = frozenset({Role.CUSTOMER, Role.VENDOR, Role.ADMIN})


class PresenceNamespace(Namespace):
    events = frozenset({"checkOnlinePresence"})

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        credentials = authenticate(self.container, environ, auth, _PRESENCE_ROLES)
        user = credentials.user
        await self.refuse_over_cap(sid, user)
        session = Session(
            user, expires_at=credentials.honoured_until, token_id=credentials.token_id
        )
        self.sessions[sid] = session
        # Counted before the handshake completes, so that a /chat socket opening beside
        # this one finds the user online as early as possible.
        came_online = await self.container.presence.connected(user, sid)
        self.spawn(self._announce_online(sid, user, came_online), user)

    async def _announce_online(self, sid: str, user: User, came_online: bool) -> None:
        await self.present.counted_online(sid, user)
        if came_online:
            await self.container.presence.announce_online(user)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.alive = False
        await self.container.presence.disconnected(session.user, sid)

    async def on_checkOnlinePresence(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.CheckOnlinePresence) -> wire.Json:
            status = await self.container.presence.status(
                session.user, User(Role(p.userType), p.userId)
            )
            return await self.present.online_presence(sid, status)

        return await self.handle(sid, args, schemas.CheckOnlinePresence, action)
