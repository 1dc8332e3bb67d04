"""Blocks: a user blocks a counterpart, and nothing flows between the two (either way, in
any of their chats) until it is lifted.

Every send, edit, reaction, typing notice and presence answer asks whether a pair is
blocked, so each node keeps every block in force in memory (`BlockCache`): blocks are
few next to messages, and the hot path reads no row. A change is applied here at once
after its commit and published to every other node (realtime/block_notices.py); each
node also reads the changes made since its last look every `SLYCHAT_REVOCATION_POLL`, in
case a notice was lost.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Invalid
from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import Block, BlockState
from slychat.realtime.block_notices import BlockNotices
from slychat.services.block_cache import BlockCache
from slychat.services.events import BlocksChanged, Event, EventSink, PresenceChanged
from slychat.services.presence import PresenceService
from slychat.storage import blocks as store
from slychat.storage import repository as repo
from slychat.storage.database import Database

# Each poll reads again what changed this long before the newest change seen: a change
# written from a host whose clock lags, or committed late, is still found.
_OVERLAP_MS = 5 * 60 * 1000


class BlockService:
    def __init__(
        self,
        db: Database,
        cache: BlockCache,
        notices: BlockNotices,
        presence: PresenceService,
        sink: EventSink,
    ) -> None:
        self.db = db
        self.cache = cache
        self.notices = notices
        self.presence = presence
        self.sink = sink
        self._newest: int | None = None  # the latest `changed_at` read so far

    async def block(self, blocker: User, target: User) -> Block:
        """`blocker` blocks `target`; blocking again changes nothing (the first time
        stays)."""
        _check(blocker, target)

        async def work(conn: AsyncConnection) -> tuple[BlockState, bool, list[Block]]:
            before = await store.pair(conn, blocker, target)
            state = await store.block(conn, blocker, target, now_ms())
            changed = before is None or not before.active
            return state, changed, await store.blocks_by(conn, blocker) if changed else []

        state, changed, listed = await self.db.write(work)
        if changed:
            await self._changed(state, listed)
        return Block(blocker, target, state.blocked_at)

    async def unblock(self, blocker: User, target: User) -> bool:
        """`blocker` lifts their block of `target`; whether there was one (lifting none
        is no failure: a retry after a lost ack must not be refused)."""
        _check(blocker, target)

        async def work(conn: AsyncConnection) -> tuple[BlockState | None, list[Block]]:
            if not await store.unblock(conn, blocker, target, now_ms()):
                return None, []
            return await store.pair(conn, blocker, target), await store.blocks_by(conn, blocker)

        state, listed = await self.db.write(work)
        if state is None:
            return False
        await self._changed(state, listed)
        return True

    async def blocked_by(self, blocker: User) -> list[Block]:
        """The blocks `blocker` has in force, oldest first."""
        async with self.db.read() as conn:
            return await store.blocks_by(conn, blocker)

    async def _changed(self, state: BlockState, listed: list[Block]) -> None:
        self.cache.apply(state)
        await self.notices.publish(state)
        events: list[Event] = [BlocksChanged(state.blocker, tuple(listed))]
        if await self._share_a_chat(state.blocker, state.blocked):
            # Presence stops (or resumes) flowing between the two: whoever of them is
            # online now reads offline (no lastSeen) to the other, or online again. Only
            # between users who hear of each other's presence at all: a stranger blocked
            # is told nothing.
            for user, other in ((state.blocker, state.blocked), (state.blocked, state.blocker)):
                if await self.presence.is_online(user):
                    events.append(PresenceChanged(user, not state.active, None, (other,)))
        await self.sink(events)

    async def _share_a_chat(self, a: User, b: User) -> bool:
        vendor, customer = (a, b) if a.role is Role.VENDOR else (b, a)
        async with self.db.read() as conn:
            return await repo.shares_chat(conn, vendor.id, customer.id)

    async def refresh(self) -> int:
        """Read the changes made since the last look (every block in force, the first
        time); how many pairs were read."""
        since = None if self._newest is None else self._newest - _OVERLAP_MS
        started = now_ms()
        async with self.db.read() as conn:
            states = await store.changed_since(conn, since)
        # Every later look reads only what changed since (by the index on `changed_at`),
        # even when nothing was found: never the whole table again.
        newest = started if since is None else self._newest or started
        for state in states:
            self.cache.apply(state)
            newest = max(newest, state.changed_at)
        self._newest = newest
        return len(states)

    def heard(self, state: BlockState) -> None:
        """A change published by a node (this one's are applied already)."""
        self.cache.apply(state)

    async def listen(self) -> None:
        """Apply the changes other nodes publish, until cancelled."""
        await self.notices.listen(self.heard, self._resubscribed)

    async def _resubscribed(self) -> None:
        await self.refresh()


def _check(blocker: User, target: User) -> None:
    """Only the other side of a chat can be blocked: a customer blocks vendors, a vendor
    customers."""
    if target.role is not blocker.role.counterpart:
        raise Invalid(
            f"userType: a {blocker.role.value.lower()} can only block a "
            f"{blocker.role.counterpart.value.lower()}"
        )
