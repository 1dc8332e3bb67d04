"""Connection registry for a single process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator

from slychat.domain.identity import User


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

    def connections(self) -> Iterator[tuple[str, User, str]]:
        for (kind, user), sids in list(self._connections.items()):
            for sid in list(sids):
                yield kind, user, sid

    async def start(self) -> None:
        return None

    async def run(self, on_change: Callable[[str, User, bool], Awaitable[None]]) -> None:
        """Nothing to maintain: one process sees all its connections open and close."""
        await asyncio.Event().wait()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._connections.clear()
