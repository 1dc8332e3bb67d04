"""api_keys: the server-to-server API's keys (only the SHA-256 of each secret is kept)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.storage.tables import api_keys


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


def _from_row(row: Sequence[Any]) -> ApiKeyRow:
    return ApiKeyRow(
        id=row[0],
        name=row[1],
        secret_hash=row[2],
        scopes=tuple(row[3].split()),
        created_at=row[4],
        last_used_at=row[5],
        revoked_at=row[6],
    )


async def insert(conn: AsyncConnection, key: ApiKeyRow) -> None:
    await conn.execute(
        api_keys.insert().values(
            id=key.id,
            name=key.name,
            secret_hash=key.secret_hash,
            scopes=" ".join(key.scopes),
            created_at=key.created_at,
        )
    )


async def by_id(conn: AsyncConnection, key_id: str) -> ApiKeyRow | None:
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return _from_row(row) if row else None


async def every(conn: AsyncConnection) -> list[ApiKeyRow]:
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))
    return [_from_row(row) for row in rows]


async def revoke(conn: AsyncConnection, key_id: str, now: int) -> bool:
    """Revoke the key unless it already was; whether the key exists."""
    await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await by_id(conn, key_id) is not None


async def touch(conn: AsyncConnection, key_id: str, now: int, older_than: int) -> None:
    """Record a use, unless one newer than `older_than` is recorded already."""
    await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            (api_keys.c.last_used_at.is_(None)) | (api_keys.c.last_used_at < older_than),
        )
        .values(last_used_at=now)
    )
