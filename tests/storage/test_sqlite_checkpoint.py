"""SQLite checkpoints run beside the writes, and the WAL still starts over under load."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from slychat.container import send_store_for
from slychat.identity import Role, User
from slychat.models import ChatDetails, ChatKey
from slychat.storage import sqlite_checkpoint
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade
from slychat.storage.send_batch import Outgoing

PAGE = 4096


async def test_the_wal_stays_small_under_steady_writes(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    store = send_store_for(db)
    key = ChatKey("p", 1, 2)
    sender = User(Role.CUSTOMER, 2)
    details = ChatDetails(product_name="p", store_name="s", customer_name="c")
    [first] = await store.store([Outgoing(key, None, sender, "hi", None, True, True, details)])
    chat_id = first.message.chat_id
    maintenance = asyncio.create_task(db.maintain())
    sent = 0
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 4.0
        while loop.time() < deadline:  # one message per transaction: several pages each
            await store.store([Outgoing(key, chat_id, sender, "x" * 200, None, True, True)])
            sent += 1
            await asyncio.sleep(0)
    finally:
        maintenance.cancel()
        await db.close()
    # Had it never started over, the WAL would hold every page of every commit: at least
    # four per message (the message row, its indexes, the chat, the feed heads), about
    # fifteen in fact. Starting over after each round of checkpoints, it holds a round's.
    wal = (tmp_path / "wal.db-wal").stat().st_size
    assert sent > 500
    assert wal < 4 * sent * PAGE, (wal, sent)


async def test_cancelling_the_checkpoints_never_closes_a_connection_under_one(
    tmp_path: Path,
) -> None:
    """Stopping the server cancels the checkpoint loop while a checkpoint may be running on
    its thread; the connection must be closed after that checkpoint, not under it (which
    crashed the process with SIGSEGV). A crash here ends the whole test run."""
    path = tmp_path / "cancel.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (v BLOB)")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        for _ in range(200):
            writer.execute("INSERT INTO t VALUES (randomblob(65536))")  # a WAL to copy
            loop = sqlite_checkpoint.checkpoint_forever(str(path), asyncio.Lock(), interval=0)
            task = asyncio.create_task(loop)
            await asyncio.sleep(0.002)  # mid-checkpoint, often
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        writer.close()
