"""Where live connections are counted: one process (memory) or every node (Redis)."""

from __future__ import annotations

from typing import Protocol

from slychat.identity import User


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

    async def close(self) -> None: ...
