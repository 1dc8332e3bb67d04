"""Revoked tokens: `slychat revoke <jti>` stores one; every node keeps those in force in
memory (a lookup per handshake and per event must cost nothing), reads the ones revoked
since its last look every `SLYCHAT_REVOCATION_POLL`, and forgets each once its window is
over."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.ids import now_ms
from slychat.storage import revocations as store
from slychat.storage.database import Database

# Each look reads again what was revoked this long before the newest revocation seen, so
# that one written from a host whose clock lags, or committed late, is still found.
# Revocations are rare: the overlap costs a handful of rows, already known, per look.
_OVERLAP_MS = 5 * 60 * 1000


class Revocations:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._until: dict[str, int] = {}  # token id -> revoked until (epoch ms)
        self._newest: int | None = None  # the latest `revoked_at` read so far

    def is_revoked(self, token_id: str | None) -> bool:
        if token_id is None:
            return False
        until = self._until.get(token_id)
        return until is not None and until > time.time() * 1000

    async def refresh(self) -> list[str]:
        """Read the revocations made since the last look; the token ids newly revoked."""
        now = now_ms()
        since = None if self._newest is None else self._newest - _OVERLAP_MS
        async with self.db.read() as conn:
            rows = await store.in_force(conn, now, since)
        fresh: list[str] = []
        for token_id, revoked_at, until in rows:
            if token_id not in self._until:
                fresh.append(token_id)
            self._until[token_id] = until
            self._newest = revoked_at if self._newest is None else max(self._newest, revoked_at)
        for token_id in [t for t, until in self._until.items() if until <= now]:
            del self._until[token_id]
        return fresh

    async def revoke(self, token_id: str, until: int) -> None:
        """Store a revocation of `token_id` until `until` (epoch ms); expired ones go."""
        now = now_ms()

        async def work(conn: AsyncConnection) -> None:
            await store.prune(conn, now)
            await store.revoke(conn, token_id, now, until)

        await self.db.write(work)
