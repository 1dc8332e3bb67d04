"""Fixtures: every end-to-end test runs against real servers on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests import log_check
from tests.s3server import s3_bucket, s3_server  # noqa: F401  (fixtures)
from tests.support import Client, RawClient, Server, next_id, postgres_admin, unavailable

POSTGRES_ADMIN_URL = os.environ.get(
    "SLYCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database for this test session and drop it afterwards."""
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"slychat_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(postgres_admin(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server means: no PostgreSQL here
        unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    url = admin.set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(
            postgres_admin(POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database of each backend for this test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "slychat.db"
        yield f"sqlite+aiosqlite:///{path}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each backend with nothing in it, for one test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session", autouse=True)
def _server_logs_are_json_lines(log_dir: Path) -> Iterator[None]:
    """At the session's end, once every server has stopped: each line that production-mode
    servers logged is a JSON object with its context, and holds no token or secret."""
    yield
    bad = log_check.problems(log_dir)
    assert not bad, f"{len(bad)} bad server log lines:\n" + "\n".join(bad[:30])


@pytest.fixture(scope="session")
def server(database_url: str, log_dir: Path) -> Iterator[Server]:
    """One migrated slychat server per backend, shared by the tests of the session; each
    test uses its own user ids, so tests do not see each other's chats."""
    srv = Server(database_url)
    srv.migrate()
    srv.start(log_dir)
    yield srv
    srv.stop()


@contextlib.contextmanager
def _spawner(server: Server, log_dir: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def spawn(**env: str) -> Server:
        srv = Server(server.database_url, env=env)
        started.append(srv)
        return srv.start(log_dir)

    try:
        yield spawn
    finally:
        for srv in started:
            srv.stop()


@pytest.fixture
def spawn_server(server: Server, log_dir: Path) -> Iterator[Callable[..., Server]]:
    """`spawn_server(SLYCHAT_X="...")`: another server on the session's (migrated)
    database, with its own settings; stopped after the test."""
    with _spawner(server, log_dir) as spawn:
        yield spawn


@pytest.fixture(scope="module")
def spawn_server_module(server: Server, log_dir: Path) -> Iterator[Callable[..., Server]]:
    """`spawn_server`, for servers that a whole module shares."""
    with _spawner(server, log_dir) as spawn:
        yield spawn


REDIS_URL = os.environ.get("SLYCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Redis for multi-node tests; keys live under a prefix of this session's own, removed
    at the end (see `redis_prefix`)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    yield REDIS_URL
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix (and pub/sub channel) per test, deleted afterwards."""
    import redis

    prefix = f"slychat-test-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


UserFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[UserFactory]:
    """`await connect("customer")` -> a ready client (new user id unless `user_id` given)."""
    clients: list[Client] = []

    async def make(
        role: str,
        user_id: int | None = None,
        *,
        ready: bool = True,
        namespaces: tuple[str, ...] = ("/presence", "/chat"),
    ) -> Client:
        client = Client(server.url, role, user_id if user_id is not None else next_id())
        clients.append(client)
        await client.connect(namespaces)
        return await client.ready() if ready and "/chat" in namespaces else client

    yield make
    await asyncio.gather(*(c.close() for c in clients))


@pytest.fixture
async def raw_client() -> AsyncIterator[Callable[[], RawClient]]:
    """`raw_client()` -> a bare recording connection (handshake tests); closed afterwards."""
    made: list[RawClient] = []

    def make() -> RawClient:
        made.append(RawClient())
        return made[-1]

    yield make
    await asyncio.gather(*(c.close() for c in made))
