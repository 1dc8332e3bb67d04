"""Identifiers and timestamps in the shapes the original system used."""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

_process_part: str
_counter: Iterator[int]
_lock: threading.Lock


def _new_process() -> None:
    """This process's random part and counter start. Again in a forked child (as
    MongoDB's drivers do), which would otherwise make the same ids as its parent."""
    global _process_part, _counter, _lock
    _lock = threading.Lock()  # not one another thread of the parent held at the fork
    _process_part = os.urandom(5).hex()
    _counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


_new_process()
os.register_at_fork(after_in_child=_new_process)


def new_id() -> str:
    """A 24-hex id, time-ordered like a MongoDB ObjectId (seconds, process, counter)."""
    with _lock:
        count = next(_counter) & 0xFFFFFF
    return f"{int(time.time()):08x}{_process_part}{count:06x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds -> ``2025-03-05T00:43:41.523Z``."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    # Timestamps written together mostly share their second: format it once.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
