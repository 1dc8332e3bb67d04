"""Background loops: run something every N seconds until cancelled, logging what fails
instead of dying of it (the next round tries again)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def logged(work: Awaitable[object], what: str, logger: logging.Logger = log) -> None:
    """Await `work`; an exception is logged (as "`what` failed"), not raised. Cancelling
    still cancels. An exception that says `logged_by_outage` (the database or Redis is
    away: its outage has logged that once) is not logged again on every round."""
    try:
        await work
    except Exception as exc:
        if getattr(exc, "logged_by_outage", False):
            logger.debug("%s failed: a dependency is away", what)
            return
        logger.exception("%s failed", what)


async def every(
    seconds: float,
    work: Callable[[], Awaitable[object]],
    what: str,
    logger: logging.Logger = log,
    *,
    at_start: bool = False,
) -> None:
    """`work()` every `seconds` until cancelled: the first time after one interval, or at
    once with `at_start`. A round that fails is logged; the next one comes on time."""
    if not at_start:
        await asyncio.sleep(seconds)
    while True:
        await logged(work(), what, logger)
        await asyncio.sleep(seconds)
