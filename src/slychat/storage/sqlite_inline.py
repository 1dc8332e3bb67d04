"""aiosqlite's connection API, run on the event loop's own thread.

aiosqlite hands every call to a worker thread and back: about 70 µs a hop and several hops
a statement, which made SQLite sends cost milliseconds of mostly waiting. The SQLite calls
themselves take microseconds, so they run inline here. The one call that could stall the
loop, waiting for a write lock another process holds, cannot happen: the connection is
opened with a zero busy timeout, so SQLite answers "database is locked" at once and the
unit of work retries after an asynchronous backoff.

A statement whose work grows with the data (markAsRead of a backlog of thousands) would
hold the loop for tens of milliseconds: inside `off_the_loop()` each call goes to a
worker thread instead, where SQLite's C code runs without the GIL and the loop goes on
serving every other socket. A unit of work has its connection to itself, so no other
call uses it meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

import aiosqlite

# Read where the driver's calls are awaited: the asyncio task of the caller (SQLAlchemy's
# greenlet hands each call back to it).
_off_loop: ContextVar[bool] = ContextVar("slychat_sqlite_off_loop", default=False)


@contextmanager
def off_the_loop() -> Iterator[None]:
    """SQLite calls made in this block run on a worker thread (a hop of about 70 µs each:
    for statements that grow with the data only). Nothing on other engines."""
    token = _off_loop.set(True)
    try:
        yield
    finally:
        _off_loop.reset(token)


class InlineConnection(aiosqlite.Connection):
    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for the send path's raw statements."""
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        if _off_loop.get():
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def creator(path: str) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy's aiosqlite dialect."""
    connect = partial(
        sqlite3.connect,
        path,
        timeout=0,  # never wait for a lock on the loop's thread
        isolation_level=None,  # autocommit at the driver: we issue BEGIN ourselves
        check_same_thread=False,
    )

    async def create() -> InlineConnection:
        return await InlineConnection(connect, iter_chunk_size=64)

    return create
