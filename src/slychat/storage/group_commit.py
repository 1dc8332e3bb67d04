"""Group commit: concurrent sends coalesce into one transaction.

A commit costs about as much as the statements of a few dozen messages (SQLite writes its
pages to the WAL once per transaction; PostgreSQL waits for one WAL flush), so one writer
takes every message queued while the previous transaction ran and stores them together.
Nobody waits for a timer: an idle writer starts at once, and a batch is whatever arrived
meanwhile. Each sender is answered only after the transaction holding its message has
committed. A batch that fails is retried one message per transaction, so a message that
fails cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from slychat.domain.errors import Unavailable
from slychat.domain.stats import BATCH_BOUNDS, LATENCY_BOUNDS, Buckets
from slychat.logs.context import start_task
from slychat.logs.redaction import describe

log = logging.getLogger(__name__)
In = TypeVar("In")
Out = TypeVar("Out")


class GroupCommit(Generic[In, Out]):
    def __init__(
        self, store: Callable[[Sequence[In]], Awaitable[list[Out]]], max_batch: int = 256
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: list[tuple[In, asyncio.Future[Out], float]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0
        # For /metrics: items committed, each one's wait from submit to commit (seconds),
        # and the size of every transaction.
        self.committed = 0
        self.latency = Buckets(LATENCY_BOUNDS)
        self.batch_sizes = Buckets(BATCH_BOUNDS)

    async def submit(self, item: In) -> Out:
        """Store `item` with whatever else is queued; its result once committed."""
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future, time.perf_counter()))
        if self._writer is None:
            self._writer = start_task("group_commit", self._drain())
        return await future

    async def idle(self) -> None:
        """Wait until everything submitted so far is committed (or has failed): the
        pending batch and whatever queued behind it. Storage closes only after this."""
        while (writer := self._writer) is not None:
            await asyncio.wait({writer})

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)
        finally:
            self._writer = None
            if self._queue:  # cancelled mid-way: the queued senders must still be answered
                self._writer = start_task("group_commit", self._drain())

    async def _commit(self, batch: list[tuple[In, asyncio.Future[Out], float]]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            results = await self._store([item for item, _, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, Unavailable):
                # One send's fault is found by storing them one by one; the database
                # being away is every send's answer at once.
                for _, future, _ in batch:
                    _settle(future, exc=exc)
                return
            log.warning(
                "a batch of %d sends failed (%s); storing them one by one",
                len(batch),
                describe(exc),
            )
            for one in batch:
                await self._commit([one])
            return
        except BaseException:  # cancelled: whether this batch committed is unknown
            for _, future, _ in batch:
                future.cancel()
            raise
        now = time.perf_counter()
        self.committed += len(batch)
        self.batch_sizes.observe(len(batch))
        for (_, future, submitted), result in zip(batch, results, strict=True):
            self.latency.observe(now - submitted)
            if not future.done():  # a sender that went away needs no answer
                future.set_result(result)


def _settle(future: asyncio.Future[Out], *, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
