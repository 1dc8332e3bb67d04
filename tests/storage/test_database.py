"""The unit of work retries transient failures whole, and never leaves a partial write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Unavailable
from slychat.storage.database import Database


@pytest.fixture
async def pg(empty_database_url: str) -> AsyncIterator[Database]:
    db = Database(empty_database_url, pool_size=2, retries=2)
    await db.write(lambda c: c.execute(text("CREATE TABLE t (v INTEGER)")))
    yield db
    await db.close()


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def _drop_connection(conn: AsyncConnection) -> None:
    """What a restarted database server or a cut network does to a transaction."""
    await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
async def test_a_dropped_connection_is_retried(pg: Database) -> None:
    attempts = 0

    async def work(conn: AsyncConnection) -> str:
        nonlocal attempts
        attempts += 1
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        if attempts == 1:
            await _drop_connection(conn)
        return "stored"

    assert await pg.write(work) == "stored"
    assert attempts == 2
    assert await _count(pg) == 1


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
async def test_a_failure_that_remains_gives_unavailable_and_writes_nothing(pg: Database) -> None:
    attempts = 0

    async def work(conn: AsyncConnection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        await _drop_connection(conn)

    with pytest.raises(Unavailable):
        await pg.write(work)
    assert attempts == 3
    assert await _count(pg) == 0


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
async def test_a_deadlock_is_retried(pg: Database) -> None:
    attempts = 0

    async def work(conn: AsyncConnection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute(text("INSERT INTO t VALUES (2)"))
        if attempts == 1:
            # Raise the genuine SQLSTATE 40P01 from the server, as a deadlock victim gets.
            await conn.execute(
                text(
                    "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; "
                    "END $$"
                )
            )

    await pg.write(work)
    assert attempts == 2
    assert await _count(pg) == 1


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
async def test_sqlite_waits_out_another_process_holding_the_write_lock(
    empty_database_url: str,
) -> None:
    """The loop never blocks on SQLite's lock; the write is retried until it is free."""
    import asyncio
    import sqlite3

    db = Database(empty_database_url)
    try:
        await db.write(lambda c: c.execute(text("CREATE TABLE t (v INTEGER)")))
        other = sqlite3.connect(empty_database_url.split("///", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # as another process writing
        write = asyncio.create_task(db.write(lambda c: c.execute(text("INSERT INTO t VALUES (1)"))))
        await asyncio.sleep(0.2)  # the loop keeps running while the write waits
        assert not write.done()
        other.execute("COMMIT")
        other.close()
        async with asyncio.timeout(5):
            await write
        assert await _count(db) == 1
    finally:
        await db.close()


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
async def test_callers_waiting_for_a_connection_are_counted(pg: Database) -> None:
    # pool_size=2 with as many again in overflow: four connections, then callers wait.
    async with contextlib.AsyncExitStack() as held:
        for _ in range(4):
            await held.enter_async_context(pg.read())
        assert pg.waiting == 0
        waiter = asyncio.create_task(_count(pg))
        for _ in range(500):  # until the task reaches the pool
            if pg.waiting:
                break
            await asyncio.sleep(0.01)
        assert pg.waiting == 1
    assert await waiter == 0
    assert pg.waiting == 0
