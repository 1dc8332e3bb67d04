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
    try:
        # Also when this connection is the first: it must see the database in WAL mode.
        conn.execute("PRAGMA journal_mode=WAL").fetchall()
        while True:
            await asyncio.sleep(interval)
            try:
                if await loop.run_in_executor(thread, _checkpoint, conn) >= _RESTART_FRAMES:
                    async with write_lock:
                        await loop.run_in_executor(thread, _checkpoint, conn)
            except sqlite3.Error as exc:  # another process is busy: the next round tries
                log.debug("WAL checkpoint skipped: %s", exc)
    finally:
        thread.submit(conn.close)
        thread.shutdown(wait=False)


def _checkpoint(conn: sqlite3.Connection) -> int:
    """Copy what can be copied now; the pages the WAL holds since it last started over."""
    [(_busy, frames, _copied)] = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return int(frames)
