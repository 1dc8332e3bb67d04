"""The webhook outbox and the leases of single-node jobs. Never commits.

These are cold paths (a few statements per poll), so they are SQLAlchemy Core on both
engines. The send path writes `chat.created` rows with its own driver statements
(`send_sqlite.py`, `send_postgres.py`); everything else about the outbox is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.webhook_events import OutboxEntry
from slychat.storage.tables import leases, webhook_outbox

_t = webhook_outbox
_pending = _t.c.delivered_at.is_(None) & _t.c.failed_at.is_(None)


@dataclass(frozen=True, slots=True)
class Pending:
    """A webhook not yet delivered nor given up; `attempts` made so far."""

    id: str
    event: str
    payload: str
    created_at: int
    attempts: int


async def insert(conn: AsyncConnection, entry: OutboxEntry) -> None:
    await conn.execute(
        _t.insert().values(
            id=entry.id,
            event=entry.event,
            payload=entry.payload,
            created_at=entry.created_at,
            next_attempt_at=entry.created_at,
        )
    )


async def due(conn: AsyncConnection, now: int, limit: int) -> list[Pending]:
    """Up to `limit` pending webhooks whose next attempt is due, oldest first."""
    rows = await conn.execute(
        select(_t.c.id, _t.c.event, _t.c.payload, _t.c.created_at, _t.c.attempts)
        .where(_pending, _t.c.next_attempt_at <= now)
        .order_by(_t.c.created_at, _t.c.id)
        .limit(limit)
    )
    return [Pending(str(i), str(e), str(p), int(c), int(a)) for i, e, p, c, a in rows]


async def delivered(conn: AsyncConnection, entry_id: str, now: int) -> None:
    await conn.execute(
        update(_t)
        .where(_t.c.id == entry_id, _pending)
        .values(delivered_at=now, attempts=_t.c.attempts + 1, last_error=None)
    )


async def attempt_failed(
    conn: AsyncConnection, entry_id: str, error: str, now: int, retry_at: int | None
) -> None:
    """Record a failed attempt: try again at `retry_at`, or give up when it is None."""
    values: dict[str, object] = {"attempts": _t.c.attempts + 1, "last_error": error}
    if retry_at is None:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = retry_at
    await conn.execute(update(_t).where(_t.c.id == entry_id, _pending).values(**values))


async def backlog(conn: AsyncConnection) -> int:
    """Webhooks not yet delivered nor given up (counted on the pending rows' index)."""
    return int(
        (await conn.execute(select(func.count()).select_from(_t).where(_pending))).scalar_one()
    )


async def prune(conn: AsyncConnection, delivered_before: int, failed_before: int) -> int:
    """Forget delivered webhooks older than `delivered_before` and given-up ones older
    than `failed_before`; how many."""
    result = await conn.execute(
        delete(_t).where((_t.c.delivered_at < delivered_before) | (_t.c.failed_at < failed_before))
    )
    return int(result.rowcount or 0)


async def take_lease(
    conn: AsyncConnection, name: str, holder: str, now: int, expires_at: int
) -> bool:
    """Take or renew the lease `name` until `expires_at`: granted when nobody holds it,
    `holder` already does, or the last holder let it expire."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(leases).values(name=name, holder=holder, expires_at=expires_at)
    upsert = insert.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": holder, "expires_at": expires_at},
        where=(leases.c.holder == holder) | (leases.c.expires_at < now),
    ).returning(leases.c.holder)
    return (await conn.execute(upsert)).first() is not None


async def release_lease(conn: AsyncConnection, name: str, holder: str) -> None:
    """Give the lease up now (a clean shutdown), so another node need not wait it out."""
    await conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
