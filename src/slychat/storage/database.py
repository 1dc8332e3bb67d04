"""The engine and the unit of work: one transaction per client action, retried when transient.

Every difference between SQLite and PostgreSQL that the rest of the code would otherwise
see lives here or in ``dialect.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    nullcontext,
)
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from slychat.errors import Unavailable
from slychat.logs import describe
from slychat.storage import sqlite_checkpoint, sqlite_inline

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, an administrator's
# shutdown, and the connection-exception class (08xxx) that a dropped link gives.
_SHUTDOWN_SQLSTATES = {"57P01", "57P02", "57P03"}
_TRANSIENT_SQLSTATES = {"40001", "40P01", *_SHUTDOWN_SQLSTATES}
# How long a SQLite write keeps retrying while another process holds the database's lock.
_LOCK_WAIT_SECONDS = 10.0


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception: SQLAlchemy wraps it, the raw send path does not."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _is_locked(exc: BaseException) -> bool:
    """SQLite: another process holds the write lock (we never wait for it on the loop)."""
    orig = _driver_error(exc)
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


def is_disconnect(exc: BaseException) -> bool:
    """The connection itself is gone (PostgreSQL restarted, or the link dropped)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = _driver_error(exc)
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and (state.startswith("08") or state in _SHUTDOWN_SQLSTATES):
        return True
    return isinstance(orig, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError)


def _is_transient(exc: BaseException) -> bool:
    orig = _driver_error(exc)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str) and state in _TRANSIENT_SQLSTATES:
        return True
    return is_disconnect(exc) or _is_locked(exc)


def create_engine(url: str, pool_size: int, pool_timeout: float) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            async_creator=sqlite_inline.creator(path),
            hide_parameters=True,  # errors must not quote values (message text) in logs
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        hide_parameters=True,  # errors must not quote values (message text) in logs
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
        # Checkpoints run on a worker thread (`sqlite_checkpoint.py`), never in a commit.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
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
        # SQLite has one writer at a time anyway: this process's writers queue here, in
        # order, instead of meeting each other as "database is locked" and retrying.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # Callers waiting for a pooled connection right now (a metric: a pool that is too
        # small shows as waiters long before it shows as timeouts).
        self.waiting = 0

    @asynccontextmanager
    async def _connection(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        """A pooled connection of `engine`, counted in `waiting` until the pool gives it."""
        async with AsyncExitStack() as stack:
            self.waiting += 1
            try:
                conn = await stack.enter_async_context(engine.connect())
            finally:
                self.waiting -= 1
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection; its implicit transaction is rolled back on exit."""
        try:
            async with self._connection(self.engine) as conn:
                yield conn
        except DBAPIError as exc:
            if _is_transient(exc):
                raise Unavailable() from exc
            raise

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in one transaction and commit; retry it whole on transient failures.

        `work` may run more than once, so it must not have effects outside the transaction.
        """

        async def attempt() -> T:
            async with (
                self.write_lock(),
                self._connection(self._writer) as conn,
                conn.begin(),
            ):
                return await work(conn)

        return await self.retrying(attempt)

    def write_lock(self) -> AbstractAsyncContextManager[Any]:
        """Held by every write transaction of this process (see `_write_lock`)."""
        return self._write_lock or nullcontext()

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """A pooled connection as its driver's own object (sqlite3.Connection or
        asyncpg.Connection), for the send path's raw statements. A connection that broke
        is discarded instead of going back to the pool."""
        async with self._connection(self.engine) as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                yield driver.sqlite if self.is_sqlite else driver
            except BaseException as exc:
                if is_disconnect(exc):
                    await conn.invalidate()
                raise

    async def retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` (one whole transaction), again on transient failures: SQLite lock
        waits for up to 10 s, other transient errors `retries` times with a capped
        backoff; then `Unavailable`."""
        tries = 0
        loop = asyncio.get_running_loop()
        lock_deadline = loop.time() + _LOCK_WAIT_SECONDS
        lock_waits = 0
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                if _is_locked(exc) and loop.time() < lock_deadline:
                    # Another process is writing; SQLite locks last milliseconds.
                    await asyncio.sleep(min(0.002 * 2**lock_waits, 0.1))
                    lock_waits += 1
                    continue
                if tries >= self.retries:
                    log.error("giving up after %d retries: %s", tries, describe(_driver_error(exc)))
                    raise Unavailable() from exc
                tries += 1
                delay = min(0.05 * 2**tries, 1.0)
                log.warning(
                    "transient database error (retry %d in %.2fs): %s",
                    tries,
                    delay,
                    describe(_driver_error(exc)),
                )
                await asyncio.sleep(delay)

    async def maintain(self) -> None:
        """Background upkeep until cancelled: SQLite's WAL checkpoints."""
        path = make_url(self.url).database
        if self.is_sqlite and path and path != ":memory:":
            await sqlite_checkpoint.checkpoint_forever(path, self.write_lock())
        await asyncio.Event().wait()

    async def ping(self) -> None:
        async with self._connection(self.engine) as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        await self.engine.dispose()
