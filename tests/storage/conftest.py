"""Storage fixtures: a migrated database of each engine, for one test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from slychat.storage.database import Database
from slychat.storage.migrate import upgrade


@pytest.fixture
async def db(empty_database_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, empty_database_url)
    database = Database(empty_database_url)
    yield database
    await database.close()
