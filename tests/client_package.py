"""The JavaScript client package (clients/js, npm `slychat-client`) for the tests: Node.js,
its npm dependencies from the committed lockfile, and its build, once per session.

`make test` installs and builds it before pytest starts; run alone, the tests do it
themselves when the build is missing or older than its sources. Without Node.js or npm
they skip, except in CI (`CI=true`), where that fails."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support import ROOT, unavailable

PACKAGE = ROOT / "clients" / "js"
DIST = PACKAGE / "dist"
BUILT = DIST / "index.mjs"
LOCKFILE = PACKAGE / "package-lock.json"
INSTALLED = PACKAGE / "node_modules" / ".package-lock.json"
SOURCES = ("src", "scripts", "package.json", "tsconfig.json")
NPM_TIMEOUT = 600.0


def _tail(text: str | None, limit: int = 6000) -> str:
    text = text or ""
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _stale(target: Path, *sources: Path) -> bool:
    return not target.exists() or target.stat().st_mtime < _newest(list(sources))


def _npm(npm: str, *args: str) -> None:
    try:
        done = subprocess.run(
            [npm, *args],
            cwd=PACKAGE,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        unavailable(f"npm {' '.join(args)} in {PACKAGE} did not finish in {NPM_TIMEOUT:.0f} s")
    if done.returncode != 0:
        unavailable(
            f"npm {' '.join(args)} in {PACKAGE} failed (exit {done.returncode})\n"
            f"{_tail(done.stdout)}\n{_tail(done.stderr)}"
        )


def node_with_package() -> str:
    """The `node` executable, with clients/js installed and built (done here when stale)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(n for n, b in (("node", node), ("npm", npm)) if b is None)
        unavailable(f"Node.js/npm not installed: {missing} not found on PATH")
    if _stale(INSTALLED, LOCKFILE):
        _npm(npm, "ci", "--no-audit", "--no-fund")
    sources = [PACKAGE / name for name in SOURCES] + [ROOT / "docs" / "asyncapi.json", LOCKFILE]
    if _stale(BUILT, *sources):
        _npm(npm, "run", "build")
    return node


class DriverError(Exception):
    """A command the driver answered with an error (a SlyChatError's statusCode and message)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Driver:
    """SlyChat clients in a Node process (clients/js/e2e/driver.mjs), driven over its stdin:
    `await driver.call(...)` for an answer, `driver.submit(...)` for one still on its way."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._stderr: list[str] = []
        self._reader = asyncio.create_task(self._read())
        self._errors = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(cls, node: str) -> Driver:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(PACKAGE / "e2e" / "driver.mjs"),
            cwd=PACKAGE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            answer = json.loads(line)
            future = self._waiting.pop(answer["id"], None)
            if future is None or future.done():
                continue
            if "error" in answer:
                error = answer["error"]
                future.set_exception(DriverError(error["statusCode"], error["message"]))
            else:
                future.set_result(answer["result"])
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RuntimeError(f"the driver exited\n{self.stderr}"))

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self._stderr.append(line.decode(errors="replace"))

    @property
    def stderr(self) -> str:
        return _tail("".join(self._stderr))

    def submit(self, op: str, **fields: Any) -> asyncio.Future[Any]:
        assert self.proc.stdin is not None
        command_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        self.proc.stdin.write(json.dumps({"id": command_id, "op": op, **fields}).encode() + b"\n")
        return future

    async def call(self, op: str, timeout: float = 30.0, **fields: Any) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await self.submit(op, **fields)
        except TimeoutError:
            raise AssertionError(
                f"no answer to {op} {fields} in {timeout} s\n{self.stderr}"
            ) from None

    async def method(self, name: str, method: str, *args: Any, timeout: float = 30.0) -> Any:
        return await self.call("call", name=name, method=method, args=list(args), timeout=timeout)

    async def state(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("state", name=name)
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.submit("exit")
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.proc.wait()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        self._errors.cancel()
