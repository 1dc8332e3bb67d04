"""Blocks between users: written by the block service, read by every node's cache. Never
commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import Block, BlockState
from slychat.storage.tables import blocks


def _pair(blocker: User, blocked: User) -> list[ColumnElement[bool]]:
    t = blocks.c
    return [
        t.blocker_type == blocker.role.value,
        t.blocker_id == blocker.id,
        t.blocked_type == blocked.role.value,
        t.blocked_id == blocked.id,
    ]


async def block(conn: AsyncConnection, blocker: User, blocked: User, now: int) -> BlockState:
    """`blocker` blocks `blocked` from `now`, unless they already do (then unchanged: the
    first `blocked_at` stays); the pair's row as it is now."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(blocks).values(
        blocker_type=blocker.role.value,
        blocker_id=blocker.id,
        blocked_type=blocked.role.value,
        blocked_id=blocked.id,
        blocked_at=now,
        unblocked_at=None,
        changed_at=now,
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[
                blocks.c.blocker_type,
                blocks.c.blocker_id,
                blocks.c.blocked_type,
                blocks.c.blocked_id,
            ],
            set_={"blocked_at": now, "unblocked_at": None, "changed_at": now},
            # A block in force is left as it is: blocking twice keeps the first time.
            where=blocks.c.unblocked_at.is_not(None),
        )
    )
    row = await pair(conn, blocker, blocked)
    assert row is not None  # just written, in this transaction
    return row


async def unblock(conn: AsyncConnection, blocker: User, blocked: User, now: int) -> bool:
    """Lift `blocker`'s block of `blocked`; whether one was in force."""
    result = await conn.execute(
        update(blocks)
        .where(*_pair(blocker, blocked), blocks.c.unblocked_at.is_(None))
        .values(unblocked_at=now, changed_at=now)
    )
    return bool(result.rowcount)


async def pair(conn: AsyncConnection, blocker: User, blocked: User) -> BlockState | None:
    rows = await conn.execute(_rows().where(*_pair(blocker, blocked)))
    found = rows.first()
    return None if found is None else _row(*found)


async def blocks_by(conn: AsyncConnection, blocker: User) -> list[Block]:
    """The blocks `blocker` has in force, oldest first."""
    t = blocks.c
    rows = await conn.execute(
        select(t.blocked_type, t.blocked_id, t.blocked_at)
        .where(
            t.blocker_type == blocker.role.value,
            t.blocker_id == blocker.id,
            t.unblocked_at.is_(None),
        )
        .order_by(t.blocked_at, t.blocked_id)
    )
    return [Block(blocker, User(Role(kind), int(uid)), int(at)) for kind, uid, at in rows]


async def changed_since(conn: AsyncConnection, since: int | None) -> list[BlockState]:
    """Every pair's row changed at or after `since`; with None, the blocks in force."""
    query = _rows()
    if since is None:
        query = query.where(blocks.c.unblocked_at.is_(None))
    else:
        query = query.where(blocks.c.changed_at >= since)
    return [_row(*found) for found in await conn.execute(query)]


def _rows() -> Select[Any]:
    t = blocks.c
    return select(
        t.blocker_type,
        t.blocker_id,
        t.blocked_type,
        t.blocked_id,
        t.blocked_at,
        t.unblocked_at,
        t.changed_at,
    )


def _row(
    blocker_type: str,
    blocker_id: int,
    blocked_type: str,
    blocked_id: int,
    blocked_at: int,
    unblocked_at: int | None,
    changed_at: int,
) -> BlockState:
    return BlockState(
        User(Role(blocker_type), int(blocker_id)),
        User(Role(blocked_type), int(blocked_id)),
        int(blocked_at),
        unblocked_at is None,
        int(changed_at),
    )
