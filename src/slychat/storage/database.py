"""The engine and the unit of work: one transaction per client action, retried when transient.

Every difference between SQLite and PostgreSQL that the rest of the code would otherwise
see lives here or in ``dialect.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from slychat.errors import Unavailable
from slychat.storage import sqlite_inline

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, and the
# connection-exception class (08xxx) that a restarted server or a dropped link gives.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03"}
# How long a SQLite write keeps retrying while another process holds the database's lock.
_LOCK_WAIT_SECONDS = 10.0


def _is_locked(exc: DBAPIError) -> bool:
    """SQLite: another process holds the write lock (we never wait for it on the loop)."""
    return "database is locked" in str(exc.orig)


def _is_transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str) and (state in _TRANSIENT_SQLSTATES or state.startswith("08")):
        return True
    return _is_locked(exc)


def create_engine(url: str, pool_size: int, pool_timeout: float) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            async_creator=sqlite_inline.creator(path),
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, and BEGIN IMMEDIATE for writers.

    A deferred transaction that reads and then writes can fail when another writer got in
    first; taking the write lock at BEGIN means a busy database is found before any work
    is done, and the whole unit of work is retried.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("slychat_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    def __init__(
        self, url: str, *, pool_size: int = 10, pool_timeout: float = 30.0, retries: int = 3
    ) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size, pool_timeout)
        self.is_sqlite = url.startswith("sqlite")
        self.retries = retries
        self._writer = self.engine.execution_options(slychat_write=True)
        # SQLite has one writer at a time anyway; queueing them here is fairer and cheaper
        # than letting them spin in SQLite's busy handler.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection; its implicit transaction is rolled back on exit."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            if _is_transient(exc):
                raise Unavailable() from exc
            raise

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in one transaction and commit; retry it whole on transient failures.

        `work` may run more than once, so it must not have effects outside the transaction.
        """
        attempt = 0
        loop = asyncio.get_running_loop()
        lock_deadline = loop.time() + _LOCK_WAIT_SECONDS
        lock_waits = 0
        while True:
            try:
                async with self._write_lock or nullcontext(), self._writer.begin() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if not _is_transient(exc):
                    raise
                if _is_locked(exc) and loop.time() < lock_deadline:
                    # Another process is writing; SQLite locks last milliseconds.
                    await asyncio.sleep(min(0.002 * 2**lock_waits, 0.1))
                    lock_waits += 1
                    continue
                if attempt >= self.retries:
                    log.error("giving up after %d retries: %s", attempt, exc)
                    raise Unavailable() from exc
                attempt += 1
                delay = min(0.05 * 2**attempt, 1.0)
                log.warning(
                    "transient database error (retry %d in %.2fs): %s", attempt, delay, exc.orig
                )
                await asyncio.sleep(delay)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self.engine.dispose()
