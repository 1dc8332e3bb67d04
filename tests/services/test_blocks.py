"""BlockCache and BlockService on their own: a newer state of a pair always wins, whatever
order states are heard in; the storage keeps the first `blockedAt` and tells every poll of
lifts; a notice survives its trip through Redis' wire format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from slychat.domain.errors import Invalid
from slychat.domain.identity import Role, User
from slychat.domain.models import BlockState
from slychat.realtime.block_notices import LocalBlockNotices, decode, encode
from slychat.realtime.memory import MemoryRegistry
from slychat.services.block_cache import BlockCache
from slychat.services.blocks import BlockService
from slychat.services.events import EventSink
from slychat.services.presence import PresenceService
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade

CUSTOMER = User(Role.CUSTOMER, 1)
VENDOR = User(Role.VENDOR, 2)
OTHER = User(Role.VENDOR, 3)


def test_the_newest_state_of_a_pair_wins_in_any_order() -> None:
    cache = BlockCache()
    blocked = BlockState(CUSTOMER, VENDOR, 10, True, 10)
    lifted = BlockState(CUSTOMER, VENDOR, 10, False, 20)
    cache.apply(lifted)
    cache.apply(blocked)  # heard late: older than the lift
    assert not cache.between(CUSTOMER, VENDOR)
    cache.apply(BlockState(CUSTOMER, VENDOR, 30, True, 30))
    assert cache.blocks(CUSTOMER, VENDOR)
    assert not cache.blocks(VENDOR, CUSTOMER)  # `blocked` shows for the blocker only
    assert cache.between(VENDOR, CUSTOMER)  # but nothing flows either way
    assert not cache.between(CUSTOMER, OTHER)


def test_a_notice_reads_back_as_written() -> None:
    state = BlockState(CUSTOMER, VENDOR, 1_795_514_933_001, False, 1_795_514_933_505)
    assert decode(encode(state)) == state
    with pytest.raises(ValueError, match="unpack"):
        decode("CUSTOMER|1|VENDOR")


async def test_blocking_twice_keeps_the_first_time_and_a_poll_hears_lifts(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        registry = MemoryRegistry()

        def service() -> BlockService:
            cache = BlockCache()
            presence = PresenceService(db, registry, EventSink(), cache)
            return BlockService(db, cache, LocalBlockNotices(), presence, EventSink())

        here, there = service(), service()  # two nodes' worth, sharing the database
        assert await there.refresh() == 0
        first = await here.block(CUSTOMER, VENDOR)
        again = await here.block(CUSTOMER, VENDOR)
        assert again.blocked_at == first.blocked_at
        assert [b.blocked for b in await here.blocked_by(CUSTOMER)] == [VENDOR]
        assert here.cache.between(CUSTOMER, VENDOR)
        assert not there.cache.between(CUSTOMER, VENDOR)  # no notice: only its poll
        await there.refresh()
        assert there.cache.blocks(CUSTOMER, VENDOR)
        assert await here.unblock(CUSTOMER, VENDOR) is True
        assert await here.unblock(CUSTOMER, VENDOR) is False  # none left: no failure
        await there.refresh()
        assert not there.cache.between(CUSTOMER, VENDOR)
        with pytest.raises(Invalid):
            await here.block(CUSTOMER, User(Role.CUSTOMER, 9))
        with pytest.raises(Invalid):
            await here.unblock(VENDOR, User(Role.ADMIN, 9))
        assert await here.blocked_by(CUSTOMER) == []
    finally:
        await db.close()
