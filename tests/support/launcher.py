"""Start `python -m slychat ...` processes without paying their imports each time.

A server's start is about 1.5 s of CPU, nine tenths of it imports, and the suite starts
about 300 of them: on a 2-core machine, a fifth of the whole run. The launcher is one
process per test process that imports what `slychat serve` always imports, once, then
forks a child per start. The child becomes exactly what `python -m slychat <args>` would
be after its imports: its own environment, working directory, argv and log file as
stdout and stderr, `slychat.__main__` run as `__main__` (so that the supervisor's spawned
workers find their main module as under `-m`), and a normal interpreter exit (atexit
handlers, non-daemon threads, the exit code). It is still a real server: its own process,
its own port, its own pid to signal.

`SLYCHAT_TESTS_FORK=0` starts every server by `subprocess.Popen` instead (what the
launcher stands for, to tell a launcher problem from a server one).

Protocol over a Unix socket, one connection per child: the test sends one JSON line
{args, env, cwd, log}; the launcher answers one line with the child's pid, and a second
line with its return code (`Popen.returncode`'s convention) when it has exited.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[2]
# What every `slychat serve` imports, whatever its settings (its CLI and the app).
PRELOAD = ("slychat.cli.main", "slychat.app")


class ServerProcess(Protocol):
    """What the tests use of `subprocess.Popen`, for a server however it was started."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


def forking() -> bool:
    return os.environ.get("SLYCHAT_TESTS_FORK", "1") != "0"


def start(args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
    """`python -m slychat *args` with `env` (the whole environment), stdout and stderr
    appended to `log`, in the checkout. Started by `python -m slychat` when forking is off,
    or when `env` asks for other code than the launcher imported (another PYTHONPATH: the
    benchmarks' earlier revisions)."""
    if not forking() or env.get("PYTHONPATH") != os.environ.get("PYTHONPATH"):
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "slychat", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
    return _launcher().launch(args, env, log)


class Forked:
    """A child of the launcher, seen from the test process."""

    def __init__(self, conn: socket.socket, args: list[str]) -> None:
        self._conn = conn
        self._args = args
        self._lines = conn.makefile("r", encoding="utf-8")
        self.pid = int(self._lines.readline())
        self.returncode: int | None = None
        self._lock = threading.Lock()  # `wait` runs in threads (asyncio.to_thread)

    def _collect(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is None:
                ready, _, _ = select.select([self._conn], [], [], timeout)
                if ready:
                    line = self._lines.readline()
                    # The launcher gone without a word: the child's status is lost with it.
                    self.returncode = int(line) if line else -signal.SIGKILL
                    self._lines.close()
                    self._conn.close()
            return self.returncode

    def poll(self) -> int | None:
        return self._collect(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(["slychat", *self._args], timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # as Popen: never a signal to a pid that may be reused
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Launcher:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="slychat-launcher-")) / "socket"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
        self.proc = subprocess.Popen(
            # By path, not `-m tests.support.launcher`: the launcher (and so every server)
            # imports nothing of the tests' package.
            [sys.executable, __file__, str(self.path)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        # One line once the imports are done and the socket listens.
        with self.proc.stdout as ready:
            if ready.readline().strip() != b"ready":
                raise RuntimeError(f"the test launcher did not start: {self.proc.wait()}")
        atexit.register(self.stop)

    def launch(self, args: list[str], env: dict[str, str], log: Path) -> Forked:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(self.path))
        request = {"args": args, "env": env, "cwd": str(ROOT), "log": str(log)}
        conn.sendall(json.dumps(request).encode() + b"\n")
        return Forked(conn, args)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.path.parent, ignore_errors=True)


_lock = threading.Lock()
_running: _Launcher | None = None


def _launcher() -> _Launcher:
    global _running
    with _lock:
        if _running is None or _running.proc.poll() is not None:
            _running = _Launcher()
        return _running


# The launcher process.


class _BecomeChild(BaseException):
    """Raised in a fresh child to leave the launcher's loop (and its `with` blocks, which
    close the launcher's sockets) before becoming the command."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request


def _serve(path: str) -> None:
    parent = os.getppid()
    children: dict[int, socket.socket] = {}
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener,
        selectors.DefaultSelector() as selector,
    ):
        listener.bind(path)
        listener.listen(64)
        selector.register(listener, selectors.EVENT_READ)
        print("ready", flush=True)
        while os.getppid() == parent:  # the test process gone: so is the launcher
            for _ in selector.select(timeout=0.05):
                conn, _ = listener.accept()
                with conn.makefile("r", encoding="utf-8") as lines:
                    request = json.loads(lines.readline())
                pid = os.fork()
                if pid == 0:
                    # The child keeps no connection: the test side sees the launcher's end.
                    for held in (conn, *children.values()):
                        held.close()
                    raise _BecomeChild(request)
                conn.sendall(f"{pid}\n".encode())
                children[pid] = conn
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                with contextlib.suppress(OSError), children.pop(pid) as conn:
                    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())


def _become(request: dict[str, Any]) -> None:
    """This fork as `python -m slychat *args`; exits the interpreter as that would."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    fd = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = ["-m", *request["args"]]  # runpy puts the module's path first, as -m does
    runpy.run_module("slychat", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    sys.path[0] = str(ROOT)  # what `python -m` in the checkout puts first, not this folder
    for module in PRELOAD:
        __import__(module)
    try:
        _serve(sys.argv[1])
    except _BecomeChild as child:
        request = child.request
    else:
        sys.exit(0)
    _become(request)  # outside the handler: the command's own errors are not chained to it
