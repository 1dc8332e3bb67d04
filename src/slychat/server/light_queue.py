"""A queue for one reader that costs almost nothing while empty.

Every websocket holds two queues (uvicorn's received events, engine.io's packets to send)
for its whole life, and an `asyncio.Queue` is four deques and an Event, about 2.5 KB even
when empty. This one is a list and, only while the reader waits, a future. It has the
part of `asyncio.Queue`'s interface that uvicorn and engine.io call, with the same
meaning (`get_nowait` raises `asyncio.QueueEmpty`; `join` waits for `task_done`).

`maxsize` only informs `full()`, which the producer asks before it puts: `put` itself
never refuses or waits, because the end-of-queue marker must always get in.
"""

from __future__ import annotations

import asyncio
from typing import Any


class LightQueue:
    __slots__ = ("_done", "_items", "_maxsize", "_unfinished", "_waiter")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: list[Any] = []
        self._maxsize = maxsize  # 0: never full
        self._waiter: asyncio.Future[None] | None = None  # the reader, while waiting
        self._unfinished = 0
        self._done: asyncio.Future[None] | None = None  # `join`, while waiting

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    @property
    def reader_waiting(self) -> bool:
        """Whether a reader waits in `get` now."""
        return self._waiter is not None and not self._waiter.done()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def join(self) -> None:
        if self._unfinished:
            if self._done is None or self._done.done():
                self._done = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._done)
