"""The process's drain hooks: what a running app must do once the server begins to stop,
before its connections are cut (see process/serving.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# Called with the deadline (event loop time) by which the drain must be over.
Drain = Callable[[float], Awaitable[None]]
_drains: list[Drain] = []


def on_drain(drain: Drain) -> Callable[[], None]:
    """Run `drain` when the server begins to stop; the returned function takes it back."""
    _drains.append(drain)

    def forget() -> None:
        if drain in _drains:
            _drains.remove(drain)

    return forget


async def drain(deadline: float) -> None:
    """Run every registered drain, together, each bounded by `deadline`."""
    if not _drains:
        return
    remaining = deadline - asyncio.get_running_loop().time()
    tasks = [asyncio.ensure_future(d(deadline)) for d in list(_drains)]
    done, pending = await asyncio.wait(tasks, timeout=max(0.0, remaining))
    for task in pending:
        task.cancel()
    if pending:
        log.warning("drain: cut short at the shutdown timeout")
    for task in done:
        if task.exception() is not None:
            log.error("drain failed", exc_info=task.exception())
