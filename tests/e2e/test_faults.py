"""When Redis or PostgreSQL falter (issue 19): two nodes on a Redis server and a
PostgreSQL database of this module's own, under steady traffic, while each fault is
injected; one SQLite node whose database file another process locks.

After each fault: every acked message is stored exactly once, and reached its online
recipient without the client asking (as receiveMessage, or a syncMessages page the server
pushed), and none was recorded as sent to an absent recipient; no send was answered 500;
readiness failed during the fault (naming what failed) and recovered; nobody was told of
a presence change that did not happen; and the nodes logged the outage, not every event
it spoiled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, fresh_postgres_database
from tests.support import Server
from tests.support.faults import (
    PostgresFaults,
    Readiness,
    RedisServer,
    Traffic,
    log_size,
    ready_again,
    sqlite_locked,
    sqlite_stored,
    warnings_since,
)

FAULT_SECONDS = 3.0  # how long each fault lasts
PAIRS = 3  # customers on one node talking to vendors on the other
# Warning and error lines a node may log for one fault: an outage's start and end for
# each dependency (database, Redis, fan-out, the limiter), the readiness checks that
# changed, the fan-out's hold. Never one per event.
MAX_WARNINGS = 16
# Faster than the production defaults, so that a fault of a few seconds shows everything:
# a presence TTL longer than the Redis pause, a lock wait shorter than the lock.
NODE_ENV = {"SLYCHAT_PRESENCE_TTL": "6s", "SLYCHAT_DB_LOCK_TIMEOUT": "1s"}


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def two_nodes(own_redis: RedisServer, own_postgres: str, log_dir: Path) -> Iterator[list[Server]]:
    env = NODE_ENV | {"SLYCHAT_REDIS_URL": own_redis.url}
    first = Server(own_postgres, env=env)
    first.migrate()
    nodes = [first.start(log_dir), Server(own_postgres, env=env).start(log_dir)]
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture
async def traffic(two_nodes: list[Server]) -> AsyncIterator[Traffic]:
    """Customers on the first node, their vendors on the second (new users per test)."""
    a, b = two_nodes
    opened = await Traffic.open([a], [b], PAIRS)
    yield opened
    await opened.close()


async def survive(
    nodes: list[Server],
    traffic: Traffic,
    fault: Callable[[], Awaitable[None]],
    stored: Callable[[list[str]], Awaitable[dict[str, int]]],
    failed_check: str | None,
) -> None:
    """Traffic before, during and after `fault`; then every promise of the module."""
    mark = traffic.mark()
    logged = [log_size(node) for node in nodes]
    with Readiness(nodes) as readiness:
        sending = asyncio.create_task(traffic.run(FAULT_SECONDS + 3.0))
        await asyncio.sleep(1.0)
        await fault()
        await sending
        await ready_again(nodes)
    assert 500 not in traffic.statuses, traffic.statuses
    missing = await traffic.all_delivered()
    assert not missing, f"{len(missing)} of {len(traffic.acked)} acked messages never arrived"
    assert traffic.repeated() == []  # each once
    counts = await stored(list(traffic.acked))
    assert {cid: counts.get(cid, 0) for cid in traffic.acked} == dict.fromkeys(traffic.acked, 1)
    if failed_check is not None:
        assert readiness.failed(failed_check), readiness.seen[-5:]
    assert traffic.presence_events(mark) == []
    assert traffic.recorded_away == [], "connected recipients recorded as away"
    for node, offset in zip(nodes, logged, strict=True):
        lines = warnings_since(node, offset)
        assert len(lines) <= MAX_WARNINGS, "\n".join(lines)


def pg_stored(own_postgres: str) -> Callable[[list[str]], Awaitable[dict[str, int]]]:
    faults = PostgresFaults(POSTGRES_ADMIN_URL, own_postgres)

    async def stored(ids: list[str]) -> dict[str, int]:
        return dict(await faults.stored(ids))

    return stored


async def test_redis_killed_and_restarted(
    two_nodes: list[Server], own_redis: RedisServer, own_postgres: str, traffic: Traffic
) -> None:
    async def fault() -> None:
        own_redis.kill()
        await asyncio.sleep(FAULT_SECONDS)
        own_redis.start()

    await survive(two_nodes, traffic, fault, pg_stored(own_postgres), "redis")


async def test_redis_paused(
    two_nodes: list[Server], own_redis: RedisServer, own_postgres: str, traffic: Traffic
) -> None:
    async def fault() -> None:
        own_redis.pause()
        try:
            await asyncio.sleep(FAULT_SECONDS)
        finally:
            own_redis.resume()

    await survive(two_nodes, traffic, fault, pg_stored(own_postgres), "redis")


async def test_every_backend_terminated_three_times(
    two_nodes: list[Server], own_postgres: str, traffic: Traffic
) -> None:
    pg = PostgresFaults(POSTGRES_ADMIN_URL, own_postgres)

    async def fault() -> None:
        for _ in range(3):
            await pg.terminate_backends()
            await asyncio.sleep(FAULT_SECONDS / 3)

    # Each kill is over at once: readiness may never see it.
    await survive(two_nodes, traffic, fault, pg_stored(own_postgres), None)


async def test_connections_refused(
    two_nodes: list[Server], own_postgres: str, traffic: Traffic
) -> None:
    pg = PostgresFaults(POSTGRES_ADMIN_URL, own_postgres)

    async def fault() -> None:
        async with pg.refusing_connections():
            await asyncio.sleep(FAULT_SECONDS)

    await survive(two_nodes, traffic, fault, pg_stored(own_postgres), "database")


async def test_messages_table_locked(
    two_nodes: list[Server], own_postgres: str, traffic: Traffic
) -> None:
    pg = PostgresFaults(POSTGRES_ADMIN_URL, own_postgres)

    async def fault() -> None:
        async with pg.messages_locked():
            await asyncio.sleep(FAULT_SECONDS)

    await survive(two_nodes, traffic, fault, pg_stored(own_postgres), "database")


# --- one node on SQLite -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_node(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("faults-sqlite") / "slychat.db"
    node = Server(f"sqlite+aiosqlite:///{path}", env=NODE_ENV)
    node.migrate()
    yield node.start(log_dir)
    node.stop()


async def test_sqlite_file_locked_by_another_process(sqlite_node: Server) -> None:
    path = Path(sqlite_node.database_url.split(":///", 1)[1])
    traffic = await Traffic.open([sqlite_node], [sqlite_node], PAIRS)

    async def fault() -> None:
        with sqlite_locked(path):
            await asyncio.sleep(FAULT_SECONDS)

    async def stored(ids: list[str]) -> dict[str, int]:
        return dict(sqlite_stored(path, ids))

    try:
        await survive([sqlite_node], traffic, fault, stored, "database")
    finally:
        await traffic.close()
