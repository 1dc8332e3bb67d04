"""What /proc says about the processes of a run: CPU time, descendants, open sockets."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU seconds of `pids` together; None when one of them is gone."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def family(pid: int) -> list[int]:
    """`pid` and all its descendants (a multi-worker server's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def open_sockets(pid: int) -> int | None:
    """How many sockets `pid` has open (None when it is gone)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


class Sampler(Generic[T]):
    """Calls `read()` every `interval` seconds in a thread while the block runs, keeping
    (monotonic time, value) for each answer that is not None, so that any window of the run
    can be measured afterwards."""

    def __init__(self, read: Callable[[], T | None], interval: float = 0.025) -> None:
        self.read = read
        self.interval = interval
        self.samples: list[tuple[float, T]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            value = self.read()
            if value is not None:
                self.samples.append((time.monotonic(), value))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Sampler[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, moment: float) -> T:
        """The last value read at or before `moment` (the first one if none was)."""
        if not self.samples:
            raise RuntimeError("nothing was sampled")
        before = [value for at, value in self.samples if at <= moment]
        return before[-1] if before else self.samples[0][1]

    def values(self) -> list[T]:
        return [value for _, value in self.samples]


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_sampler(groups: Mapping[str, Sequence[int]]) -> Sampler[dict[str, float]]:
    """A sampler of the CPU seconds of each named group of processes, and of the whole
    machine (as "machine")."""

    def read() -> dict[str, float] | None:
        used = {name: cpu_seconds(pids) for name, pids in groups.items()}
        if any(value is None for value in used.values()):
            return None
        known = {name: value for name, value in used.items() if value is not None}
        return known | {"machine": machine_busy_seconds()}

    return Sampler(read)


def cpu_between(sampler: Sampler[dict[str, float]], start: float, end: float) -> dict[str, float]:
    """CPU seconds each group used from `start` to `end` (monotonic times)."""
    first, last = sampler.at(start), sampler.at(end)
    return {name: last[name] - first[name] for name in last}
