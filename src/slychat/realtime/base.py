"""Where live connections are counted: one process (memory) or every node (Redis)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from slychat.domain.identity import User

# (kind, user, online): a user's presence changed without a connection of theirs opening or
# closing here, because another node died or this one came back.
PresenceChange = Callable[[str, User, bool], Awaitable[None]]


class ConnectionRegistry(Protocol):
    """Tracks each user's open connections per namespace ("presence" or "chat").

    Connections are identified by their socket id, so a repeated add or remove is
    harmless; a user is connected while at least one connection remains.
    """

    async def add(self, kind: str, user: User, sid: str) -> bool:
        """Register a connection; True when it is the user's first of this kind."""
        ...

    async def remove(self, kind: str, user: User, sid: str) -> bool:
        """Forget a connection; True when it was the user's last of this kind."""
        ...

    async def count(self, kind: str, user: User) -> int: ...

    async def start(self) -> None:
        """Called once before the server accepts connections."""
        ...

    async def run(self, on_change: PresenceChange) -> None:
        """Maintenance (heartbeats, sweeping dead nodes) until cancelled."""
        ...

    async def ping(self) -> None:
        """Raise when the shared backend is unreachable (readiness)."""
        ...

    async def close(self) -> None: ...
