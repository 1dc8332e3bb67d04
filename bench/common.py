"""What every benchmark needs: databases, servers, clients, timing and the report."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    title: str
    lines: list[str] = field(default_factory=list)

    def add(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "---|" * len(header))
        for row in rows:
            self.add("| " + " | ".join(row) + " |")
        self.add()

    def save(self, name: str) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(f"# {self.title}\n\n{machine()}\n\n" + "\n".join(self.lines) + "\n")
        print(f"report: {path}")
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


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    """A fresh database of `backend`, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name = f"slychat_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def backend_available(backend: str) -> str | None:
    """None when the backend can be used, else why not."""
    if backend == "sqlite":
        return None
    try:
        await _admin("SELECT 1")
    except Exception as exc:  # any failure to reach it: report and skip the backend
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"
    return None


@contextlib.contextmanager
def running(database_url: str, **env: str) -> Iterator[Server]:
    """A migrated `slychat serve` on a free loopback port."""
    server = Server(database_url, env={"SLYCHAT_LOG_LEVEL": "error", **env})
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
