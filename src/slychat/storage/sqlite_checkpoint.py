"""SQLite WAL checkpoints on a worker thread instead of inside commits.

By default the commit that grows the WAL past 1,000 pages copies them into the database
file and syncs it, on the event loop's thread: in a profile of a saturated server that
was a tenth of all time. Every connection here turns that off, and this loop checkpoints
a few times a second from its own connection in a thread; sqlite3 releases the GIL while
it copies and syncs, so the event loop goes on serving.

Each round copies what it can while writes go on. But SQLite starts the WAL over only
when a write begins and finds it fully copied, which under steady load never happens if
writes commit during every checkpoint: the WAL grew by gigabytes. So once the WAL holds
more than `_RESTART_FRAMES` pages, a second pass holds this process's write lock; it has
only the pages written since the first pass to copy (a few milliseconds of sends wait),
and the next write starts the WAL over.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from typing import Any

from slychat.process.periodic import every

log = logging.getLogger(__name__)


# 32 MB of 4 KB pages: under full load a pause every second or so, and a WAL that stays
# about that size on disk.
_RESTART_FRAMES = 8192


async def checkpoint_forever(
    path: str, write_lock: AbstractAsyncContextManager[Any], interval: float = 0.1
) -> None:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    # One thread of its own: cancelling this task does not stop a checkpoint running on
    # it, and closing the connection under that checkpoint crashed the process (SIGSEGV
    # at shutdown). The close is queued behind it, on the same thread.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
    loop = asyncio.get_running_loop()
    in_wal = False
    try:

        async def checkpoint() -> None:
            nonlocal in_wal
            try:
                # Every step, the first included, can meet a lock held for a moment: a
                # connection closing in this process, another process's last connection
                # cleaning up, recovery after a crash. A busy timeout would not cover
                # them all (SQLite skips the busy handler in some of them), and this
                # connection has none anyway: a failed round is simply tried again, so a
                # lock at start-up never ends the checkpoints for the process's life.
                if not in_wal:
                    in_wal = await loop.run_in_executor(thread, _enter_wal, conn)
                if in_wal and await loop.run_in_executor(thread, _checkpoint, conn) >= (
                    _RESTART_FRAMES
                ):
                    async with write_lock:
                        await loop.run_in_executor(thread, _checkpoint, conn)
            except sqlite3.Error as exc:  # locked for now: the next round tries again
                log.debug("WAL checkpoint skipped: %s", exc)

        await every(interval, checkpoint, "a WAL checkpoint", log, at_start=True)
    finally:
        thread.submit(conn.close)
        thread.shutdown(wait=False)


def _enter_wal(conn: sqlite3.Connection) -> bool:
    """Put the database in WAL mode (this connection may be the first to open it); whether
    it is. SQLite answers with the mode it kept when it could not switch."""
    [(mode,)] = conn.execute("PRAGMA journal_mode=WAL").fetchall()
    if mode != "wal":
        log.debug("WAL checkpoints wait: the database is in %s mode", mode)
    return bool(mode == "wal")


def _checkpoint(conn: sqlite3.Connection) -> int:
    """Copy what can be copied now; the pages the WAL holds since it last started over."""
    [(_busy, frames, _copied)] = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return int(frames)
