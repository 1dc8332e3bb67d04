"""ChatPolicies: a chat's own contact policy is read once per `ttl`, and one set on this
node is in effect here at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from slychat.services.chat_policies import ChatPolicies
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade


async def test_a_policy_is_read_once_per_ttl_and_one_set_here_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        policies = ChatPolicies(db, ttl=3600)
        assert await policies.of("f" * 24) is None  # no such chat: the setting's
        policies.remember("a" * 24, "off")
        assert await policies.of("a" * 24) == "off"  # no query: the chat does not exist
        expired = ChatPolicies(db, ttl=0)
        expired.remember("a" * 24, "off")
        assert await expired.of("a" * 24) is None  # read again: the database has none
    finally:
        await db.close()
