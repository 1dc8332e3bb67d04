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

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from slychat.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, and the
# connection-exception class (08xxx) that a restarted server or a dropped link gives.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03"}


def _is_transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str) and (state in _TRANSIENT_SQLSTATES or state.startswith("08")):
        return True
    # SQLite: another process holds the write lock past busy_timeout.
    return "database is locked" in str(orig)


def create_engine(url: str, pool_size: int, pool_timeout: float) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=pool_size, pool_timeout=pool_timeout)
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
    first; taking the write lock at BEGIN makes writers queue (busy_timeout) instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
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
        while True:
            try:
                async with self._write_lock or nullcontext(), self._writer.begin() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if not _is_transient(exc):
                    raise
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
