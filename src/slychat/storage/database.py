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

from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from slychat.domain.errors import Unavailable
from slychat.logs.outages import Outage
from slychat.logs.redaction import describe
from slychat.storage import outages, sqlite_checkpoint, sqlite_inline

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a SQLite write keeps retrying while another process holds the database's lock.
_LOCK_WAIT_SECONDS = 10.0
# How long a readiness probe waits for the write lock (PostgreSQL: a table lock).
_PROBE_LOCK_SECONDS = 1.0


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception: SQLAlchemy wraps it, the raw send path does not."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _sqlite_probe(path: str) -> None:
    """Take SQLite's write lock on a connection of its own and give it back: raises
    "database is locked" while another process holds it for longer than the probe waits."""
    probe = sqlite3.connect(path, timeout=_PROBE_LOCK_SECONDS, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    finally:
        probe.close()


def create_engine(
    url: str, pool_size: int, pool_timeout: float, lock_timeout: float = 10.0
) -> AsyncEngine:
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
        # A lock held by someone else (a migration, an operator's LOCK TABLE) ends a
        # statement as 55P03 after this long: the client gets 503, not a send that hangs.
        connect_args={"server_settings": {"lock_timeout": f"{round(lock_timeout * 1000)}ms"}},
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
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        retries: int = 3,
        lock_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size, pool_timeout, lock_timeout)
        # One warning when the database goes away and one when it is back.
        self.outage = Outage("database")
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
        connected = False
        try:
            async with self._connection(self.engine) as conn:
                connected = True
                yield conn
        except Exception as exc:
            # Before the connection came, anything is the database's; after, only what
            # its driver raised (the block may do other I/O).
            if not connected or outages.from_driver(exc):
                self.raise_unavailable(exc)
            raise
        self.outage.ok()

    def raise_unavailable(self, exc: BaseException) -> None:
        """Raise `Unavailable` from `exc` when `exc` means the database is not there right
        now (the outage noted); return for any other error."""
        if outages.is_unavailable(exc):
            self.outage.failed(describe(_driver_error(exc)))
            raise Unavailable() from exc

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
                if outages.is_disconnect(exc):
                    await conn.invalidate()
                raise

    async def retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` (one whole transaction), again on transient failures: SQLite lock
        waits for up to 10 s, other transient errors `retries` times with a capped
        backoff (none while an outage is known); then `Unavailable`."""
        tries = 0
        loop = asyncio.get_running_loop()
        lock_deadline = loop.time() + _LOCK_WAIT_SECONDS
        lock_waits = 0
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                if not outages.is_retryable(exc):
                    self.raise_unavailable(exc)
                    raise
                if outages.is_locked(exc) and loop.time() < lock_deadline:
                    # Another process is writing; SQLite locks last milliseconds.
                    await asyncio.sleep(min(0.002 * 2**lock_waits, 0.1))
                    lock_waits += 1
                    continue
                if tries >= self.retries or self.outage.down:
                    # During an outage each action tries once: 503 at once, and the
                    # client retries after retryAfter (the first success ends it).
                    self.raise_unavailable(exc)
                    raise Unavailable() from exc
                tries += 1
                delay = min(0.05 * 2**tries, 1.0)
                if not self.outage.down:  # during an outage its first line said it all
                    log.info(
                        "transient database error (retry %d in %.2fs): %s",
                        tries,
                        delay,
                        describe(_driver_error(exc)),
                    )
                await asyncio.sleep(delay)
            else:
                self.outage.ok()
                return result

    async def maintain(self) -> None:
        """Background upkeep until cancelled: SQLite's WAL checkpoints."""
        path = make_url(self.url).database
        if self.is_sqlite and path and path != ":memory:":
            await sqlite_checkpoint.checkpoint_forever(path, self.write_lock())
        await asyncio.Event().wait()

    async def ping(self) -> None:
        """Raise unless a write could start now: a connection is made and the write lock
        taken (SQLite: BEGIN IMMEDIATE; PostgreSQL: the `messages` table's row lock,
        which an exclusive lock held elsewhere blocks), then rolled back."""
        try:
            async with self._connection(self.engine) as conn:
                if self.is_sqlite:
                    await conn.exec_driver_sql("SELECT 1")
                    path = make_url(self.url).database
                    if path and path != ":memory:":
                        # This process's writers wait behind the probe, not fail on it.
                        async with self.write_lock():
                            await asyncio.to_thread(_sqlite_probe, path)
                    return
                trans = await conn.begin()
                try:
                    ms = round(_PROBE_LOCK_SECONDS * 1000)
                    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{ms}ms'")
                    # Before the first migration there is no table to lock (readiness
                    # then says "migrations", not "database").
                    found = await conn.exec_driver_sql("SELECT to_regclass('messages')")
                    if found.scalar() is not None:
                        await conn.exec_driver_sql("LOCK TABLE messages IN ROW EXCLUSIVE MODE")
                finally:
                    await trans.rollback()
        except Exception as exc:
            self.raise_unavailable(exc)
            raise

    async def close(self) -> None:
        await self.engine.dispose()
