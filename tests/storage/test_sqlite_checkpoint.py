"""SQLite checkpoints run beside the writes, and the WAL still starts over under load."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from slychat.container import send_store_for
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails, ChatKey
from slychat.storage import sqlite_checkpoint
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade
from slychat.storage.send_batch import Outgoing

PAGE = 4096


def _wal_restarts(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL
    starts over (https://sqlite.org/fileformat2.html#walformat)."""
    with wal.open("rb") as f:
        return int.from_bytes(f.read(16)[12:16], "big")


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
    wal = tmp_path / "wal.db-wal"
    maintenance = asyncio.create_task(db.maintain())
    began = _wal_restarts(wal)
    restarts = 0
    try:
        # Writes without a pause until the WAL started over three times (what a fast
        # machine does in a second or two, a loaded one in more): each message in its own
        # transaction, several pages each, so that checkpoints always meet a write.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60.0
        sent = 0
        while restarts < 3 and loop.time() < deadline:
            await store.store([Outgoing(key, chat_id, sender, "x" * 200, None, True, True)])
            sent += 1
            if sent % 50 == 0:
                restarts = _wal_restarts(wal) - began
            await asyncio.sleep(0)
    finally:
        maintenance.cancel()
        await db.close()
    assert restarts >= 3, (restarts, sent)
    # Never much more than the restart threshold: the forced restart takes the write lock
    # once the WAL holds that many pages, so only one round's writes come on top of it
    # (the file keeps its largest size; it is never truncated).
    size = wal.stat().st_size
    assert size < 2 * sqlite_checkpoint._RESTART_FRAMES * PAGE, (size, sent)


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


async def _until(
    done: Callable[[], bool], what: str, loop_task: asyncio.Task[None] | None = None
) -> None:
    """Wait for `done()`; fail at once if the checkpoint loop died (it must never end)."""
    deadline = asyncio.get_running_loop().time() + 30
    while not done():
        if loop_task is not None and loop_task.done():
            loop_task.result()  # its exception, if it raised
            pytest.fail(f"the checkpoint loop ended before {what}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {what} within 30 s")
        await asyncio.sleep(0.001)


def _grew(path: Path, size: int) -> bool:
    """The database file is larger: a checkpoint copied pages from the WAL into it."""
    return path.stat().st_size > size


def _checkpoint_threads() -> int:
    return sum(t.name.startswith("sqlite-checkpoint") for t in threading.enumerate())


def _new_database(path: Path, journal_mode: str) -> sqlite3.Connection:
    """A database with a table `t`, and a writer that never checkpoints on its own."""
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute(f"PRAGMA journal_mode={journal_mode}")
    writer.execute("PRAGMA synchronous=OFF")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (v BLOB)")
    return writer


async def test_a_database_locked_at_start_still_gets_wal_and_checkpoints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server starts while another process holds the new database's lock (writing its
    schema): the loop's first round meets "database is locked"; the later ones put the
    database in WAL mode and checkpoint it."""
    caplog.set_level(logging.DEBUG, logger=sqlite_checkpoint.__name__)
    path = tmp_path / "locked.db"
    writer = _new_database(path, "DELETE")
    writer.execute("BEGIN EXCLUSIVE")  # no one else may even read
    writer.execute("INSERT INTO t VALUES (1)")
    task = asyncio.create_task(
        sqlite_checkpoint.checkpoint_forever(str(path), asyncio.Lock(), interval=0.01)
    )
    try:
        await _until(lambda: "database is locked" in caplog.text, "locked round", task)
        writer.execute("COMMIT")

        def mode() -> str:  # as the writer finds it at its next read
            writer.execute("SELECT count(*) FROM t").fetchall()
            return str(writer.execute("PRAGMA journal_mode").fetchone()[0])

        await _until(lambda: mode() == "wal", "WAL mode", task)
        size = path.stat().st_size
        writer.execute("INSERT INTO t VALUES (randomblob(65536))")  # into the WAL only
        await _until(partial(_grew, path, size), "checkpoint", task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()


@pytest.mark.parametrize("rounds", [200, pytest.param(5000, marks=pytest.mark.slow)])
async def test_connections_closing_beside_the_start_never_stop_the_checkpoints(
    tmp_path: Path, rounds: int
) -> None:
    """The race of the issue: a connection of this process that closes holds a lock for a
    moment, and a checkpoint loop starting just then got "database is locked" and died.
    Over and over, with connections opening and closing beside it: a WAL to copy, a
    checkpoint loop started; the WAL must reach the database file."""
    path = tmp_path / "race.db"
    writer = _new_database(path, "WAL")  # open throughout: no other connection is the last
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            conn = sqlite3.connect(path, timeout=0)
            with contextlib.suppress(sqlite3.Error):  # it meets the same locks
                conn.execute("SELECT count(*) FROM t").fetchall()
            conn.close()

    threads = _checkpoint_threads()  # any other test's
    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(rounds):
            # The last round's loop is gone, thread and all: what is copied now is this one's.
            await _until(lambda: _checkpoint_threads() == threads, "the last loop's thread to end")
            writer.execute("INSERT INTO t VALUES (randomblob(8192))")  # into the WAL only
            size = path.stat().st_size
            task = asyncio.create_task(
                sqlite_checkpoint.checkpoint_forever(str(path), asyncio.Lock(), interval=0)
            )
            try:
                await _until(partial(_grew, path, size), "checkpoint", task)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        stop.set()
        churner.join()
        writer.close()
