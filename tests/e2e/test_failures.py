"""When storage fails, clients are told so, and nothing hangs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL
from tests.support import Client, Server, next_id, postgres_admin


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
async def test_a_lost_database_fails_the_chat_handshake_clearly(
    empty_database_url: str, log_dir: Path
) -> None:
    server = Server(empty_database_url)
    server.migrate()
    server.start(log_dir)
    client = Client(server.url, "vendor", next_id())
    try:
        name = empty_database_url.rsplit("/", 1)[1]
        await postgres_admin(POSTGRES_ADMIN_URL, f'DROP DATABASE "{name}" WITH (FORCE)')
        await client.connect()
        error = await client.wait("appError")
        assert error == {
            "error": True,
            "statusCode": 503,
            "message": "Service temporarily unavailable, please retry",
            "retryAfter": 1.0,
        }
        for _ in range(100):
            if not client.sio.connected or "/chat" not in client.sio.namespaces:
                break
            await asyncio.sleep(0.05)
        assert "/chat" not in client.sio.namespaces
        assert client.received("userChats") == []
    finally:
        await client.close()
        server.stop()
