"""uvicorn, stopping gracefully: on SIGTERM or SIGINT the server stops accepting
connections, drains the app (process/lifecycle.py: in-flight events finish, clients are sent
away to reconnect elsewhere), and only then lets uvicorn close what is left and run the
lifespan shutdown; the process is gone within the shutdown timeout whatever happens.

uvicorn alone would cut every websocket at once and wait for pending long-polls (up to a
ping interval) before the lifespan shutdown: too late to drain anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from uvicorn.server import HANDLED_SIGNALS

from slychat.process import lifecycle

log = logging.getLogger(__name__)
# Shares of the shutdown timeout: the drain ends by the first, uvicorn's wait for the
# connections left ends by the second, and the rest is the lifespan shutdown's (storage).
_DRAIN_SHARE = 0.7
_CONNECTIONS_SHARE = 0.85
FAILED_TO_STOP = 1  # the exit status when the timeout cut the shutdown short


class DrainingServer(uvicorn.Server):
    """uvicorn's server, draining the app before its own shutdown steps."""

    def __init__(self, config: uvicorn.Config, shutdown_timeout: float) -> None:
        super().__init__(config)
        self.shutdown_timeout = shutdown_timeout

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        began = time.monotonic()
        _watchdog(self.shutdown_timeout)
        loop = asyncio.get_running_loop()
        start = loop.time()
        log.info("shutting down: draining for at most %.1fs", self.shutdown_timeout)
        # Stop accepting first: nothing new may land on a process that is leaving.
        for server in getattr(self, "servers", []):
            server.close()
        for sock in sockets or []:
            sock.close()
        await lifecycle.drain(start + self.shutdown_timeout * _DRAIN_SHARE)
        remaining = start + self.shutdown_timeout * _CONNECTIONS_SHARE - loop.time()
        # uvicorn hands it to asyncio.wait_for, which takes fractions of a second too.
        self.config.timeout_graceful_shutdown = max(0.1, remaining)  # type: ignore[assignment]
        await super().shutdown(sockets)
        log.info("shut down in %.2fs", time.monotonic() - began)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's handlers while serving; then the process leaves with status 0. uvicorn
        would restore the previous handlers and raise the captured signals again (the exit
        status then says "killed by SIGTERM"), and a signal arriving while the process
        exits (a supervisor forwarding the Ctrl-C its worker already got) would kill it."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self.handle_exit)
        try:
            yield
        finally:
            for sig in HANDLED_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)


def _watchdog(timeout: float) -> None:
    """End the process at `timeout` seconds from now if it is still there."""

    def expire() -> None:
        log.error("the shutdown took longer than %.1fs; exiting now", timeout)
        logging.shutdown()
        os._exit(FAILED_TO_STOP)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()


def serve(config: uvicorn.Config, shutdown_timeout: float) -> bool:
    """Run one server process; whether it started."""
    server = DrainingServer(config, shutdown_timeout)
    server.run()
    return server.started
