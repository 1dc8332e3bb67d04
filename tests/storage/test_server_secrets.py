"""The stored cursor key of a public-key setup, on both engines: made once by whichever
node asks first, the same for every node, kept across restarts."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from slychat.domain.identity import Role, User
from slychat.protocol.cursors import CursorCodec
from slychat.services.sync import Position
from slychat.storage.database import Database
from slychat.storage.tables import server_secrets

USER = User(Role.VENDOR, 7)
AT = Position(5, 1_800_000_000_000)


async def test_nodes_starting_at_once_share_one_stored_key(
    db: Database, empty_database_url: str
) -> None:
    # Each node has its own engine, as separate processes do.
    nodes = [Database(empty_database_url) for _ in range(6)]
    try:
        codecs = [CursorCodec(None) for _ in nodes]
        await asyncio.gather(*(codec.load(node) for codec, node in zip(codecs, nodes, strict=True)))
        cursors = {codec.encode(USER, AT) for codec in codecs}
        assert len(cursors) == 1  # one key
        [cursor] = cursors
        for codec in codecs:
            assert codec.decode(cursor, USER) == AT
    finally:
        await asyncio.gather(*(node.close() for node in nodes))

    async with db.read() as conn:
        count = await conn.scalar(select(func.count()).select_from(server_secrets))
        [secret] = (await conn.execute(select(server_secrets.c.secret))).scalars()
    assert count == 1
    assert len(secret) == 32

    restarted = CursorCodec(None)
    await restarted.load(db)
    assert restarted.decode(cursor, USER) == AT


async def test_a_configured_key_is_used_as_it_is(db: Database) -> None:
    codec = CursorCodec(b"k" * 32)
    await codec.load(db)
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(server_secrets)) == 0
    assert codec.decode(codec.encode(USER, AT), USER) == AT
    other = CursorCodec(b"x" * 32)
    assert other.decode(codec.encode(USER, AT), USER) is None
