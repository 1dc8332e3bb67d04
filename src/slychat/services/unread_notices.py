"""The `message.unread` scan: unread messages to recipients who are away become one
webhook per recipient, listing their chats and counts.

The message row itself is the durable record that a notice may be owed: it is written by
the send transaction. The scan turns due messages into outbox rows in one transaction with
the recipient's watermark (`unread_notices.notified_until`), so a crash anywhere loses no
notice and reports none twice. The watermark only moves from the value the scan read, so
two scans that overlap (a lease handed over mid-scan) write one notice, not two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.webhook_events import OutboxEntry, UnreadChat, message_unread
from slychat.services.presence import CHAT, PRESENCE, PresenceService
from slychat.storage import repository as repo
from slychat.storage import unread_notices as store
from slychat.storage import webhook_outbox as outbox
from slychat.storage.database import Database

# Messages unread for longer than this are past notifying; it bounds the full scans.
HORIZON_MS = 24 * 3600 * 1000
# A message's `created_at` is taken just before its transaction commits: incremental scans
# look back this far so that no late commit falls between two of them.
COMMIT_SLACK_MS = 60 * 1000
# A notice also reports messages younger than the delay (the rest of a burst), but none
# younger than this: one still committing could otherwise fall behind the watermark.
BURST_MARGIN_MS = 5 * 1000
RECIPIENTS_PER_PAGE = 200


class UnreadScanner:
    """Each `scan` looks at the messages that came of age since the previous one; every
    `sweep_every` seconds it looks at the whole horizon instead, which finds the messages
    of recipients who were connected when their messages came of age and have been away
    for the delay since."""

    def __init__(
        self, db: Database, presence: PresenceService, delay: float, sweep_every: float
    ) -> None:
        self.db = db
        self.presence = presence
        self.delay_ms = int(delay * 1000)
        self.margin_ms = min(self.delay_ms // 2, BURST_MARGIN_MS)
        self.sweep_every = sweep_every
        self._covered: int | None = None  # the cutoff every due message before was seen at
        self._last_sweep = float("-inf")

    async def scan(self, now: int) -> int:
        """Write the notices due at `now`; how many."""
        cutoff = now - self.delay_ms
        clock = asyncio.get_running_loop().time()
        sweep = self._covered is None or clock - self._last_sweep >= self.sweep_every
        # After a pause (another node held the lease), never further back than a full scan.
        after = cutoff - HORIZON_MS
        if not sweep:
            after = max(after, (self._covered or 0) - COMMIT_SLACK_MS)
        written = 0
        for role in (Role.CUSTOMER, Role.VENDOR):
            last_id = -1
            while True:
                async with self.db.read() as conn:
                    page = await store.recipients(
                        conn, role, cutoff, after, last_id, RECIPIENTS_PER_PAGE
                    )
                if not page:
                    break
                away = [user for user in page if not await self._connected(user)]
                if away:
                    until = now - self.margin_ms
                    work = partial(_notify, users=away, cutoff=cutoff, until=until, now=now)
                    written += await self.db.write(work)
                if len(page) < RECIPIENTS_PER_PAGE:
                    break
                last_id = page[-1].id
        self._covered = cutoff
        if sweep:
            self._last_sweep = clock
        return written

    async def _connected(self, user: User) -> bool:
        """Any socket of the user's, on any node (the registry sees them all with Redis)."""
        return (
            await self.presence.connections(user, PRESENCE)
            or await self.presence.connections(user, CHAT)
        ) > 0


async def _notify(
    conn: AsyncConnection, users: Sequence[User], cutoff: int, until: int, now: int
) -> int:
    """One notice per user with messages still due, each with its watermark moved on.
    Runs inside a write transaction that may be retried whole."""
    written = 0
    for user in users:
        entry = await _notice(conn, user, cutoff, until, now)
        if entry is not None:
            await outbox.insert(conn, entry)
            written += 1
    return written


async def _notice(
    conn: AsyncConnection, user: User, cutoff: int, until: int, now: int
) -> OutboxEntry | None:
    seen = await store.notified_until(conn, user)
    # A message that came of age triggers the notice, which reports every unread message
    # since the previous one (up to `until`): a burst of messages is one call, not one per
    # scan it spans, and older ones that an incremental scan's window missed (their
    # recipient was connected then) are not skipped by the watermark moving past them.
    due = await store.due_for(conn, user, cutoff, cutoff - HORIZON_MS, until=until)
    if not any(m.created_at <= cutoff for m in due):  # read, deleted or reported since
        return None
    newest = {m.chat_id: m for m in due}  # oldest first: the last one per chat stays
    counts = await repo.unread_counts(conn, list(newest), user)
    chats = await store.chats_by_ids(conn, list(newest))
    items = [
        UnreadChat(chats[cid], counts.get(cid, 0), m.message_id, m.created_at)
        for cid, m in sorted(newest.items(), key=lambda kv: kv[1].created_at, reverse=True)
        if cid in chats
    ]
    if not await store.advance(conn, user, seen, max(m.created_at for m in due)):
        return None
    return message_unread(user, items, now)
