"""Counting on the hot path without locks: plain attributes read when /metrics is scraped.

Every count is kept by the object that does the work (an int it increments, or a
`Buckets` it observes into); `routes/metrics.py` reads them at scrape time. The
event loop is one thread, so an increment needs no lock and allocates nothing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

# Seconds from a send being queued to its transaction committing.
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Messages in one group-commit transaction.
BATCH_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Buckets:
    """A histogram's state: a count per upper bound (inclusive, as Prometheus' `le`),
    one more for larger values, and the sum of everything observed."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) per bound, +Inf last."""
        total, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out
