"""Reading a test server's database directly, to check what was stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(sql), params))
    finally:
        await engine.dispose()


async def chat_rows(database_url: str, product_id: str) -> list[Any]:
    return await query(database_url, "SELECT * FROM chats WHERE product_id = :p", p=product_id)


async def message_rows(database_url: str, chat_id: str) -> list[Any]:
    return await query(
        database_url, "SELECT * FROM messages WHERE chat_id = :c ORDER BY seq", c=chat_id
    )


async def execute(database_url: str, *statements: str) -> None:
    """Run statements in one committed transaction (a test changing the schema)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def chat_state(database_url: str, chat_id: str) -> dict[str, list[Any]]:
    """Everything stored about one chat, for "a refused event changed nothing": the chat,
    its messages (tombstones included), their versions and reactions, its participants'
    settings of it and every feed change about it."""
    sql = {
        "chat": "SELECT * FROM chats WHERE id = :c",
        "messages": "SELECT * FROM messages WHERE chat_id = :c ORDER BY seq",
        "versions": (
            "SELECT v.* FROM message_versions v JOIN messages m ON m.id = v.message_id "
            "WHERE m.chat_id = :c ORDER BY v.message_id, v.version"
        ),
        "reactions": (
            "SELECT r.* FROM message_reactions r JOIN messages m ON m.id = r.message_id "
            "WHERE m.chat_id = :c ORDER BY r.message_id, r.user_type, r.user_id"
        ),
        "settings": "SELECT * FROM chat_settings WHERE chat_id = :c ORDER BY user_type",
        "feed": "SELECT * FROM feed WHERE chat_id = :c ORDER BY user_type, user_id, pos",
    }
    return {name: await query(database_url, q, c=chat_id) for name, q in sql.items()}
