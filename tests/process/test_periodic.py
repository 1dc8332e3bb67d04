"""The background loop helper: rounds on time, failures logged and survived, a clean stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from slychat.process.periodic import every, logged


async def test_a_failing_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the first round fails")
        if len(rounds) == 3:
            third.set()

    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(every(0.001, work, "the test round", at_start=True))
        async with asyncio.timeout(10):
            await third.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    failed = [r for r in caplog.records if r.getMessage() == "the test round failed"]
    assert len(failed) == 1
    assert failed[0].exc_info is not None


async def test_without_at_start_the_first_round_waits_one_interval() -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    task = asyncio.create_task(every(3600, work, "a slow round"))
    await asyncio.sleep(0)  # the loop has started, and is waiting
    await asyncio.sleep(0)
    assert not ran.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ran.is_set()


async def test_cancelling_cancels_the_round_in_progress(caplog: pytest.LogCaptureFixture) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    task = asyncio.create_task(logged(work(), "a round"))
    async with asyncio.timeout(10):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stopped.is_set()
    assert not caplog.records  # a cancellation is not a failure
