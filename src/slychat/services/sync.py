"""syncMessages: a user's change feed since a cursor the server handed out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import FeedEntry, Message
from slychat.services import budget, events
from slychat.services.events import EventSink
from slychat.storage import feeds
from slychat.storage import repository as repo
from slychat.storage.database import Database

# A cursor at the head of a feed is dated at the read, yet a change committing just after
# the read may carry a slightly older timestamp; pruning keeps this much more than the
# retention so that such a change is never pruned while that cursor is still honoured.
_PRUNE_MARGIN_MS = 60_000


@dataclass(frozen=True, slots=True)
class Position:
    pos: int
    at: int  # when the change at `pos` happened; the age retention is checked against


def head_position(pos: int) -> Position:
    """A cursor just after `pos`, the newest change in a feed read now."""
    return Position(pos, now_ms())


@dataclass(frozen=True, slots=True)
class SyncPage:
    changes: list[FeedEntry]
    has_more: bool
    position: Position
    reset: bool = False


class SyncService:
    def __init__(
        self,
        db: Database,
        retention_seconds: float,
        page_size: int,
        list_budget: int,
        sink: EventSink,
    ) -> None:
        self.sink = sink
        self.db = db
        self.list_budget = list_budget
        self.retention_ms = int(retention_seconds * 1000)
        self.page_size = page_size

    async def sync(self, user: User, since: Position | None, limit: int | None = None) -> SyncPage:
        """The changes after `since`. Messages to `user` that reach them this way count
        as delivered. An unknown or expired cursor gets `reset`."""
        now = now_ms()
        async with self.db.read() as conn:
            head = head_position(await feeds.feed_head(conn, user))
            if since is None or since.at < now - self.retention_ms or since.pos > head.pos:
                return SyncPage([], False, head, reset=True)
            entries, has_more = await feeds.feed_page(
                conn, user, since.pos, limit or self.page_size
            )
        kept = budget.prefix(entries, budget.change_cost, self.list_budget)
        if len(kept) < len(entries):
            entries, has_more = kept, True
        delivered = await self._deliver(user, entries, now)
        await self.sink(events.delivered(delivered))
        if delivered:
            by_id = {m.id: m for m in delivered}
            entries = [
                replace(e, message=by_id.get(e.message.id, e.message)) if e.message else e
                for e in entries
            ]
        if has_more:
            position = Position(entries[-1].pos, entries[-1].at)
        else:
            position = Position(entries[-1].pos if entries else since.pos, max(since.at, head.at))
        return SyncPage(entries, has_more, position)

    async def _deliver(self, user: User, entries: Sequence[FeedEntry], now: int) -> list[Message]:
        pending = [
            e.message
            for e in entries
            if e.message is not None
            # an edit of a message names it too: the message's own entry delivers it
            and e.kind == "message"
            and e.message.sender != user
            # Only the other party's messages are delivered to `user`: a SYSTEM notice
            # has no sender who would hear of it.
            and e.message.sender.role is not Role.SYSTEM
            and e.message.delivered_at is None
            and e.message.deleted_at is None
        ]
        if not pending:
            return []

        async def work(conn: AsyncConnection) -> list[Message]:
            changed = set(await repo.mark_delivered(conn, [m.id for m in pending], now))
            delivered = [replace(m, delivered_at=now) for m in pending if m.id in changed]
            await record_delivery(conn, delivered, now)
            return delivered

        return await self.db.write(work)

    async def prune(self) -> int:
        """Forget changes older than the retention; their cursors now get `reset`."""
        cutoff = now_ms() - self.retention_ms - _PRUNE_MARGIN_MS
        return await self.db.write(lambda conn: feeds.prune_feed(conn, cutoff))


async def record_delivery(conn: AsyncConnection, delivered: Sequence[Message], now: int) -> None:
    """A `delivered` change in each sender's feed, one per chat."""
    groups: dict[tuple[str, User], list[str]] = defaultdict(list)
    for m in delivered:
        groups[(m.chat_id, m.sender)].append(m.id)
    for (chat_id, sender), ids in sorted(
        groups.items(), key=lambda g: (feeds.lock_order(g[0][1]), g[0][0])
    ):
        await feeds.append_feed(conn, [sender], "delivered", chat_id, now, message_ids=ids)
