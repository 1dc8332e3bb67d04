"""Connection registry for a single process."""

from __future__ import annotations

from collections import defaultdict

from slychat.identity import User


class MemoryRegistry:
    def __init__(self) -> None:
        self._connections: dict[tuple[str, User], set[str]] = defaultdict(set)

    async def add(self, kind: str, user: User, sid: str) -> bool:
        sids = self._connections[(kind, user)]
        first = not sids
        sids.add(sid)
        return first

    async def remove(self, kind: str, user: User, sid: str) -> bool:
        sids = self._connections.get((kind, user))
        if not sids or sid not in sids:
            return False
        sids.discard(sid)
        if not sids:
            del self._connections[(kind, user)]
            return True
        return False

    async def count(self, kind: str, user: User) -> int:
        return len(self._connections.get((kind, user), ()))

    async def close(self) -> None:
        self._connections.clear()
