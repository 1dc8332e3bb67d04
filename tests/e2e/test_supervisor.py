"""`slychat serve --workers N` (process/supervisor.py): a worker that dies is replaced, SIGHUP
replaces every worker while the port keeps answering, and a worker that cannot start
stops the whole server with a nonzero status. (SIGTERM's drain: tests/e2e/test_shutdown.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import ON_SQLITE, ROOT, Server, free_port

STARTUP_FAILURE = 3  # uvicorn's exit status for "could not start"


def worker_pids(srv: Server) -> set[int]:
    """The workers alive now, from their "Started server process [pid]" log lines."""
    text = (srv.log_path or Path()).read_text()
    pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", text)}
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(srv: Server) -> bool:
    try:
        with urllib.request.urlopen(f"{srv.url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@ON_SQLITE
def test_workers_are_replaced_when_killed_and_on_sighup(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> None:
    env = {
        "SLYCHAT_REDIS_URL": redis_url,
        "SLYCHAT_REDIS_PREFIX": redis_prefix,
        "SLYCHAT_SHUTDOWN_TIMEOUT": "5s",
    }
    srv = Server(server.database_url, env=env, args=["--workers", "2"]).start(log_dir)
    assert srv.proc is not None
    try:
        wait_for(lambda: len(worker_pids(srv)) == 2, "two workers")
        first = worker_pids(srv)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(worker_pids(srv) - first) == 1, "a replacement worker")
        assert srv.proc.poll() is None, "the supervisor stays up"
        assert all(healthy(srv) for _ in range(10))
        assert worker_pids(srv) & first == first - {victim}

        before = worker_pids(srv)
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: not worker_pids(srv) & before, "every worker replaced")
        assert srv.proc.poll() is None
        assert len(worker_pids(srv)) == 2
        assert all(healthy(srv) for _ in range(10))

        srv.proc.terminate()
        assert srv.proc.wait(15) == 0
        assert not worker_pids(srv), "no worker outlives the supervisor"
    finally:
        srv.stop()


def test_ctrl_c_drains_every_worker_and_exits_0(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> None:
    env = {"SLYCHAT_REDIS_URL": redis_url, "SLYCHAT_REDIS_PREFIX": redis_prefix}
    srv = Server(server.database_url, env=env, args=["--workers", "2"]).start(log_dir)
    assert srv.proc is not None
    try:
        wait_for(lambda: len(worker_pids(srv)) == 2, "two workers")
        # Ctrl-C: the terminal sends SIGINT to the supervisor and to every worker.
        for pid in (srv.proc.pid, *worker_pids(srv)):
            os.kill(pid, signal.SIGINT)
        assert srv.proc.wait(15) == 0
        assert (srv.log_path or Path()).read_text().count("sessions closed") == 2
    finally:
        srv.stop()


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app whose lifespan startup fails, as a worker's would on a broken setup."""
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "broken on purpose"})


def test_a_worker_that_cannot_start_stops_the_supervisor() -> None:
    # slychat's own lifespan survives a database or Redis that is down (it retries), so
    # the supervisor runs an app that cannot start.
    code = (
        "import sys, uvicorn; from slychat.process.supervisor import serve_workers; "
        f"config = uvicorn.Config('{__name__}:failing_app', port={free_port()}, "
        "host='127.0.0.1', workers=2, lifespan='on'); "
        "sys.exit(serve_workers(config, 5.0))"
    )
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == STARTUP_FAILURE, result.stderr[-3000:]
    assert time.monotonic() - began < 20
    assert "failed to start" in result.stderr
