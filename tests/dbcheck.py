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
