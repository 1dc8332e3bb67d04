"""Suspensions on both engines: what each node keeps in memory, read again on each look;
one unlifted suspension per user; a suspension ends by itself at `until`; a look that read
the table before this node's own change committed does not undo it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.ids import new_id, now_ms
from slychat.domain.reports import Suspension
from slychat.services.suspensions import Suspensions
from slychat.storage import reports as store
from slychat.storage.database import Database
from slychat.storage.tables import suspensions

ALICE = User(Role.CUSTOMER, 1)
BOB = User(Role.VENDOR, 1)  # the same id, the other role: someone else


async def _suspend(db: Database, user: User, until: int | None) -> Suspension:
    s = Suspension(user, "spam", until, now_ms(), "k" * 24)
    await db.write(lambda conn: store.suspend(conn, new_id(), s, now_ms()))
    return s


async def test_every_node_reads_the_suspensions_in_force(db: Database) -> None:
    node = Suspensions(db)
    await _suspend(db, ALICE, None)
    await _suspend(db, BOB, now_ms() + 300)
    assert not node.is_suspended(ALICE)  # not looked yet
    await node.refresh()
    assert node.is_suspended(ALICE)
    assert node.is_suspended(BOB)
    assert not node.is_suspended(User(Role.CUSTOMER, 2))

    await asyncio.sleep(0.4)
    assert not node.is_suspended(BOB)  # over at `until`, without a look
    await node.refresh()
    assert not node.is_suspended(BOB)

    lifted = await db.write(lambda conn: store.lift(conn, ALICE, now_ms()))
    assert lifted is not None
    assert lifted.reason == "spam"
    await node.refresh()
    assert not node.is_suspended(ALICE)
    assert await db.write(lambda conn: store.lift(conn, ALICE, now_ms())) is None


async def test_a_new_suspension_replaces_the_one_in_force(db: Database) -> None:
    await _suspend(db, ALICE, None)
    later = await _suspend(db, ALICE, now_ms() + 60_000)
    async with db.read() as conn:
        found = await store.suspension_of(conn, ALICE, now_ms())
        assert found is not None
        assert found.until == later.until
        assert len(await store.in_force(conn, now_ms())) == 1
    # The partial unique index holds one unlifted suspension per user.
    with pytest.raises(IntegrityError):
        await db.write(
            lambda conn: conn.execute(
                suspensions.insert().values(
                    id=new_id(), user_type="CUSTOMER", user_id=1, reason="x", suspended_at=1
                )
            )
        )


async def test_a_look_that_read_before_a_local_change_does_not_undo_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look is held between its read and its use (the real query, on the real
    database), while this node suspends someone and commits."""
    node = Suspensions(db)
    stale = Suspensions(db)
    read_started = asyncio.Event()
    proceed = asyncio.Event()
    real_in_force = store.in_force

    async def held_in_force(conn: AsyncConnection, now: int) -> list[Suspension]:
        found = await real_in_force(conn, now)
        read_started.set()
        await proceed.wait()
        return found

    monkeypatch.setattr(store, "in_force", held_in_force)
    look = asyncio.create_task(node.refresh())
    await read_started.wait()  # the look read the table: nobody suspended yet
    made = await _suspend(db, ALICE, None)
    node.remember(made)  # as the moderation service does after its commit
    proceed.set()
    await look
    monkeypatch.undo()
    assert node.is_suspended(ALICE)
    await stale.refresh()
    assert stale.is_suspended(ALICE)
    node.forget(ALICE)
    assert not node.is_suspended(ALICE)
