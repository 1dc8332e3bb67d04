"""What every benchmark needs: databases, servers, clients, timing and the report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.support import Client, Server, postgres_admin

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
POSTGRES_ADMIN_URL = os.environ.get(
    "SLYCHAT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SLYCHAT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Report:
    """A Markdown report, saved as `bench-results/<name>-<stamp>.md` with, when a part adds
    them, its raw data (`.json`) and charts (`-<chart>.png`) beside it."""

    title: str
    name: str = "bench"
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, Callable[[Path], None]] = field(default_factory=dict)
    stamp: str = field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S"))

    def path(self, suffix: str) -> Path:
        return RESULTS / f"{self.name}-{self.stamp}{suffix}"

    def add(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)

    def chart(self, key: str, caption: str, draw: Callable[[Path], None]) -> None:
        """Embed the chart that `draw(path)` will write as a PNG when the report is saved."""
        self.charts[key] = draw
        self.add(f"![{caption}]({self.path(f'-{key}.png').name})\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "---|" * len(header))
        for row in rows:
            self.add("| " + " | ".join(row) + " |")
        self.add()

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = self.path(".md")
        path.write_text(f"# {self.title}\n\n{machine()}\n\n" + "\n".join(self.lines) + "\n")
        print(f"report: {path}")
        if self.data:
            raw = self.path(".json")
            raw.write_text(json.dumps({"machine": machine(), **self.data}, indent=1) + "\n")
            print(f"raw data: {raw}")
        for key, draw in self.charts.items():
            chart = self.path(f"-{key}.png")
            try:
                draw(chart)
            except ImportError as exc:  # matplotlib comes with the `bench` extras
                print(f"chart skipped ({exc}): pip install -e '.[bench]', or use `make bench`")
                continue
            print(f"chart: {chart}")
        return path


def machine() -> str:
    return (
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {platform.platform()}"
    )


async def median_ms(fn: Callable[[], Awaitable[object]], runs: int, warmup: int = 1) -> float:
    """Median wall time of `fn` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        await fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def _admin(sql: str) -> None:
    await postgres_admin(POSTGRES_ADMIN_URL, sql)


def _postgres_database() -> tuple[str, str]:
    """A new database name on the bench's PostgreSQL server, and its asyncpg URL."""
    name = f"slychat_bench_{secrets.token_hex(4)}"
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    return name, url.render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    """A fresh database of `backend`, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name, url = _postgres_database()
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """`database()` for code that is not async (each admin statement runs its own loop)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name, url = _postgres_database()
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def backend_available(backend: str) -> str | None:
    """None when the backend can be used, else why not."""
    if backend == "sqlite":
        return None
    try:
        await _admin("SELECT 1")
    except Exception as exc:  # any failure to reach it: report and skip the backend
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"
    return None


def wait_healthy(url: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 30) -> None:
    """Until `url`/healthz answers 200; raises with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/healthz", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@contextlib.contextmanager
def running(database_url: str, *serve_args: str, **env: str) -> Iterator[Server]:
    """A migrated `slychat serve [serve_args]` on a free loopback port."""
    server = Server(database_url, env={"SLYCHAT_LOG_LEVEL": "error", **env}, args=list(serve_args))
    server.migrate()
    with tempfile.TemporaryDirectory() as logs:
        server.start(Path(logs))
        try:
            yield server
        finally:
            server.stop()


async def ready_client(url: str, role: str, user_id: int) -> Client:
    """A client through the /chat handshake."""
    client = Client(url, role, user_id)
    await client.connect()
    return await client.ready()
