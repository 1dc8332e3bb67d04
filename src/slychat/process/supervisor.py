"""`slychat serve --workers N`: one process binds the port and runs N worker processes on
it, each a draining server (process/serving.py).

SIGTERM or SIGINT: every worker drains and stops; the supervisor exits 0 if all of them
stopped cleanly within the shutdown timeout, kills what is left after it. SIGHUP replaces
the workers one by one, each old one draining once its successor serves. A worker that
dies is replaced, unless it failed at startup: that would fail again, so everything stops.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from types import FrameType

import uvicorn
from uvicorn._subprocess import get_subprocess
from uvicorn.config import STARTUP_FAILURE

from slychat.process.serving import FAILED_TO_STOP, DrainingServer

log = logging.getLogger(__name__)
_spawn = multiprocessing.get_context("spawn")  # what uvicorn's get_subprocess uses
_MARGIN = 5.0  # seconds past the shutdown timeout before a worker is killed
_READY_TIMEOUT = 60.0  # for a worker started by SIGHUP to serve, or the old one stays


class _Worker(DrainingServer):
    """A draining server that tells the supervisor once it serves."""

    def __init__(self, config: uvicorn.Config, shutdown_timeout: float, ready: Event) -> None:
        super().__init__(config, shutdown_timeout)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _run_worker(
    config: uvicorn.Config, shutdown_timeout: float, ready: Event, sockets: list[socket.socket]
) -> None:
    """The worker process's body (uvicorn's `subprocess_started` calls it)."""
    _Worker(config, shutdown_timeout, ready).run(sockets=sockets)


@dataclass
class Supervisor:
    config: uvicorn.Config
    shutdown_timeout: float
    sockets: list[socket.socket] = field(default_factory=list)
    workers: list[tuple[SpawnProcess, Event]] = field(default_factory=list)
    retiring: list[SpawnProcess] = field(default_factory=list)  # draining after SIGHUP
    stopping: bool = False
    replace_all: bool = False

    def run(self) -> int:
        """Serve until a signal or a startup failure; the exit status."""
        self.sockets = [self.config.bind_socket()]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        log.info("supervisor [%d] starting %d workers", os.getpid(), self.config.workers)
        self.workers = [self._start() for _ in range(self.config.workers)]
        failed = False
        while not self.stopping:
            wait([p.sentinel for p in self._processes()], timeout=0.5)
            for gone in [p for p in self.retiring if p.exitcode is not None]:
                self.retiring.remove(gone)
                if gone.exitcode != 0:
                    log.warning("replaced worker [%s] exited %s", gone.pid, gone.exitcode)
            failed = self._replace_dead()
            if self.replace_all and not self.stopping:
                self.replace_all = False
                self._replace_one_by_one()
        return self._stop(failed)

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        # Only a flag: the loop acts on it within half a second.
        if sig == signal.SIGHUP:
            self.replace_all = True
        elif not self.stopping:
            log.info("received %s: stopping every worker", signal.Signals(sig).name)
            self.stopping = True

    def _start(self) -> tuple[SpawnProcess, Event]:
        ready = _spawn.Event()
        target = functools.partial(_run_worker, self.config, self.shutdown_timeout, ready)
        process = get_subprocess(config=self.config, target=target, sockets=self.sockets)
        process.start()
        return process, ready

    def _processes(self) -> list[SpawnProcess]:
        return [p for p, _ in self.workers] + self.retiring

    def _replace_dead(self) -> bool:
        """Start a worker for each one that died; True when one failed at startup."""
        for i, (process, _) in enumerate(self.workers):
            if process.exitcode is None or self.stopping:
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start: stopping", process.pid)
                self.stopping = True
                return True
            log.warning("worker [%s] exited (%s): starting another", process.pid, process.exitcode)
            self.workers[i] = self._start()
        return False

    def _replace_one_by_one(self) -> None:
        log.info("received SIGHUP: replacing the workers one by one")
        for i, (old, _) in enumerate(self.workers):
            new, ready = self._start()
            deadline = time.monotonic() + _READY_TIMEOUT
            while not (ready.is_set() or self.stopping or new.exitcode is not None):
                if time.monotonic() > deadline:
                    break
                wait([new.sentinel], timeout=0.2)
            if not ready.is_set():
                new.kill()
                new.join()
                log.error("the new worker did not start: keeping the others as they are")
                return
            old.terminate()  # SIGTERM: it drains while its successor serves
            self.retiring.append(old)
            self.workers[i] = (new, ready)

    def _stop(self, failed: bool) -> int:
        # SIGTERM even after a SIGINT: on Ctrl-C the terminal has already sent SIGINT to
        # every worker, and uvicorn takes a second SIGINT as "exit now, no drain".
        for process in self._processes():
            if process.exitcode is None:
                process.terminate()
        deadline = time.monotonic() + self.shutdown_timeout + _MARGIN
        for process in self._processes():
            process.join(max(0.0, deadline - time.monotonic()))
        stuck = [p for p in self._processes() if p.exitcode is None]
        for process in stuck:
            log.error("worker [%s] did not stop in time: killing it", process.pid)
            process.kill()
            process.join()
        for sock in self.sockets:
            sock.close()
        unclean = {p.pid: p.exitcode for p in self._processes() if p.exitcode != 0}
        if failed:
            return STARTUP_FAILURE
        if unclean:
            log.error("workers did not stop cleanly (pid: exit status): %s", unclean)
            return FAILED_TO_STOP
        log.info("supervisor [%d] stopped", os.getpid())
        return 0


def serve_workers(config: uvicorn.Config, shutdown_timeout: float) -> int:
    """Run `config.workers` draining processes on one socket; the exit status."""
    return Supervisor(config, shutdown_timeout).run()
