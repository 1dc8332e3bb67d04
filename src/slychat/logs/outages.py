"""One log line when a dependency goes away and one when it is back, not one per event.

While PostgreSQL refuses connections or Redis hangs, every send, every poll and every
heartbeat fails the same way; the log says so once (a warning naming the dependency and
the first failure), then once more when the first call succeeds again (with how long the
outage lasted). `down` is also what /metrics reports as `slychat_dependency_down`.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Outage:
    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self.down = False
        self.failures = 0  # failed calls in the current outage
        self._since = 0.0

    def failed(self, detail: str) -> None:
        """A call failed because the dependency is not there; logged on the first only."""
        self.failures += 1
        if self.down:
            return
        self.down = True
        self._since = time.monotonic()
        log.warning("%s unavailable: %s", self.dependency, detail)

    def ok(self) -> None:
        """A call succeeded: the end of the outage, if there was one."""
        if not self.down:
            return
        self.down = False
        lasted = time.monotonic() - self._since
        log.warning(
            "%s available again after %.1f s (%d failed calls)",
            self.dependency,
            lasted,
            self.failures,
        )
        self.failures = 0
