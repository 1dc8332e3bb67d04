"""Each chat's own contact-detail policy (the platform's override), remembered for a
short while so that the send path reads it without a query.

A policy set on this node is in effect at once here; another node reads it again once
its remembered copy is `ttl` seconds old (SLYCHAT_REVOCATION_POLL, as revocations), so a
change is in effect everywhere within that time.
"""

from __future__ import annotations

import time

from slychat.storage import repository as repo
from slychat.storage.database import Database


class ChatPolicies:
    def __init__(self, db: Database, ttl: float, capacity: int = 100_000) -> None:
        self.db = db
        self.ttl = ttl
        self.capacity = capacity
        self._known: dict[str, tuple[str | None, float]] = {}

    async def of(self, chat_id: str) -> str | None:
        """The chat's own policy ("off", "mask", "refuse"), or None: the setting's."""
        known = self._known.get(chat_id)
        if known is not None and time.monotonic() - known[1] < self.ttl:
            return known[0]
        async with self.db.read() as conn:
            policy = await repo.chat_contact_policy(conn, chat_id)
        self.remember(chat_id, policy)
        return policy

    def remember(self, chat_id: str, policy: str | None) -> None:
        self._known.pop(chat_id, None)
        if len(self._known) >= self.capacity:  # forget the oldest entry
            del self._known[next(iter(self._known))]
        self._known[chat_id] = (policy, time.monotonic())
