"""The small queue that stands in for asyncio.Queue under every websocket."""

from __future__ import annotations

import asyncio

import pytest

from slychat.server.light_queue import LightQueue
from slychat.server.websocket import Gate


async def test_items_come_out_in_order_and_a_reader_waits() -> None:
    queue = LightQueue()
    queue.put_nowait(1)
    await queue.put(2)
    assert [await queue.get(), queue.get_nowait()] == [1, 2]
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()

    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait(3)
    assert await waiting == 3


async def test_a_cancelled_wait_leaves_the_queue_usable() -> None:
    queue = LightQueue()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await queue.get()  # engine.io's long-poll does this
    queue.put_nowait("after")
    assert await queue.get() == "after"


async def test_join_waits_for_every_task_done() -> None:
    queue = LightQueue()
    queue.put_nowait("a")
    queue.put_nowait("b")
    joined = asyncio.ensure_future(queue.join())
    await queue.get()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    await queue.get()
    queue.task_done()
    async with asyncio.timeout(1):
        await joined
    with pytest.raises(ValueError, match="too many"):
        queue.task_done()


async def test_the_write_gate_holds_writers_only_while_paused() -> None:
    gate = Gate()
    async with asyncio.timeout(1):
        await gate.wait()
    gate.clear()
    writer = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    assert not writer.done()
    assert not gate.is_set()
    gate.set()
    async with asyncio.timeout(1):
        await writer


def test_a_bounded_queue_says_when_it_is_full_and_still_takes_the_end_marker() -> None:
    queue = LightQueue(2)
    queue.put_nowait(1)
    assert not queue.full()
    queue.put_nowait(2)
    assert queue.full()
    queue.put_nowait(None)  # the producer asks `full()`; the end marker must get in
    assert queue.qsize() == 3
    assert not LightQueue().full()
