"""API keys on both engines: only the secret's hash is stored, and verification refuses
every bad, revoked or under-scoped key; a use is written at most once a minute."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.cli.apikeys import SCOPES
from slychat.domain.errors import Forbidden, Invalid, NotFound, Unauthorized
from slychat.domain.ids import now_ms
from slychat.services.apikeys import TOUCH_INTERVAL_MS, ApiKeyService, Scope, parse_scopes
from slychat.storage.database import Database
from slychat.storage.tables import api_keys


def test_the_cli_offers_exactly_the_services_scopes() -> None:
    assert tuple(s.value for s in Scope) == SCOPES
    assert parse_scopes(["chats:read", "chats:read", "users:erase"]) == (
        Scope.CHATS_READ,
        Scope.USERS_ERASE,
    )
    with pytest.raises(Invalid):
        parse_scopes(["chats:everything"])


async def test_only_the_secrets_hash_is_stored(db: Database) -> None:
    keys = ApiKeyService(db)
    made, text = await keys.create("shop", (Scope.CHATS_READ,))
    prefix, key_id, secret = text.split("_", 2)
    assert (prefix, key_id) == ("slyk", made.id)
    async with db.read() as conn:
        row = (await conn.execute(select(api_keys))).one()
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(tuple(row))
    assert row.scopes == "chats:read"
    assert [k.id for k in await keys.list()] == [made.id]


async def test_verification_refuses_bad_revoked_and_underscoped_keys(db: Database) -> None:
    keys = ApiKeyService(db)
    made, text = await keys.create("shop", (Scope.CHATS_READ, Scope.CHATS_WRITE))
    assert (await keys.verify(text, Scope.CHATS_READ)).id == made.id
    secret = text.split("_", 2)[2]
    for bad in (None, "", "slyk_", text + "x", f"slyk_{'0' * 24}_{secret}", text[:-1] + "?"):
        with pytest.raises(Unauthorized):
            await keys.verify(bad, Scope.CHATS_READ)
    with pytest.raises(Forbidden):
        await keys.verify(text, Scope.USERS_ERASE)
    await keys.revoke(made.id)
    await keys.revoke(made.id)  # again: still revoked, no error
    with pytest.raises(Unauthorized):
        await keys.verify(text, Scope.CHATS_READ)
    with pytest.raises(NotFound):
        await keys.revoke("f" * 24)
    with pytest.raises(Invalid):
        await keys.create("no scopes", ())


async def test_a_use_is_recorded_at_most_once_a_minute(db: Database) -> None:
    keys = ApiKeyService(db)
    made, text = await keys.create("shop", (Scope.CHATS_READ,))
    await keys.verify(text, Scope.CHATS_READ)
    [first] = await keys.list()
    assert first.last_used_at is not None
    await keys.verify(text, Scope.CHATS_READ)
    assert (await keys.list())[0].last_used_at == first.last_used_at

    long_ago = now_ms() - TOUCH_INTERVAL_MS - 1

    async def age(conn: AsyncConnection) -> None:
        await conn.execute(
            update(api_keys).where(api_keys.c.id == made.id).values(last_used_at=long_ago)
        )

    await db.write(age)
    await keys.verify(text, Scope.CHATS_READ)
    assert ((await keys.list())[0].last_used_at or 0) > long_ago
