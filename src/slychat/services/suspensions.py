"""Suspended users, as every node keeps them: in memory (a handshake, an event and an HTTP
request ask without a query), read again from the database every
`SLYCHAT_REVOCATION_POLL` by the loop that checks live sockets' tokens
(sockets/live_tokens.py), which then closes the sockets of users suspended meanwhile. A
suspension made or lifted on this node is known here at once; an ended one (`until`
passed) stops counting at that moment, on every node, without a look."""

from __future__ import annotations

import time

from slychat.domain.identity import User
from slychat.domain.ids import now_ms
from slychat.domain.reports import Suspension
from slychat.storage import reports as store
from slychat.storage.database import Database

_FOREVER = 2**62


class Suspensions:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._until: dict[User, int] = {}  # user -> suspended until (epoch ms)
        # This node's own changes (user -> (when, until; None: lifted)), so that a look
        # that read the table before one of them committed does not undo it.
        self._local: dict[User, tuple[float, int | None]] = {}

    def is_suspended(self, user: User) -> bool:
        until = self._until.get(user)
        return until is not None and until > time.time() * 1000

    def remember(self, s: Suspension) -> None:
        until = _FOREVER if s.until is None else s.until
        self._until[s.user] = until
        self._local[s.user] = (time.monotonic(), until)

    def forget(self, user: User) -> None:
        self._until.pop(user, None)
        self._local[user] = (time.monotonic(), None)

    async def refresh(self) -> None:
        """Every suspension in force, read again (lifts made on other nodes included)."""
        started = time.monotonic()
        async with self.db.read() as conn:
            found = await store.in_force(conn, now_ms())
        fresh = {s.user: _FOREVER if s.until is None else s.until for s in found}
        self._local = {u: change for u, change in self._local.items() if change[0] >= started}
        for user, (_at, until) in self._local.items():
            if until is None:
                fresh.pop(user, None)
            else:
                fresh[user] = until
        self._until = fresh
