"""Revoked tokens: written by `slychat revoke`, read by every node. Never commits."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.storage.tables import revoked_tokens

# (jti, revoked_at, expires_at), times in epoch milliseconds
Revocation = tuple[str, int, int]


async def revoke(conn: AsyncConnection, jti: str, revoked_at: int, expires_at: int) -> None:
    """Revoke `jti` until `expires_at`; revoking it again replaces the earlier window."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(revoked_tokens).values(
        jti=jti, revoked_at=revoked_at, expires_at=expires_at
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[revoked_tokens.c.jti],
            set_={"revoked_at": revoked_at, "expires_at": expires_at},
        )
    )


async def in_force(conn: AsyncConnection, now: int, since: int | None) -> list[Revocation]:
    """Revocations still in force at `now`, revoked at or after `since` (all when None)."""
    t = revoked_tokens
    query = select(t.c.jti, t.c.revoked_at, t.c.expires_at).where(t.c.expires_at > now)
    if since is not None:
        query = query.where(t.c.revoked_at >= since)
    rows = await conn.execute(query)
    return [(str(jti), int(at), int(until)) for jti, at, until in rows]


async def prune(conn: AsyncConnection, now: int) -> int:
    """Forget revocations whose window is over; how many."""
    result = await conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at <= now))
    return int(result.rowcount or 0)
