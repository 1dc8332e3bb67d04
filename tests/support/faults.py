"""Fault injection for tests/e2e/test_faults.py: a Redis server of the test's own (killed,
restarted, paused), PostgreSQL faults confined to the test's own database (backends
terminated, connections refused, a table locked), a SQLite file locked by another
connection; steady traffic that records what every client saw, and the checks made after
each fault. Nothing here touches the machine's own Redis or PostgreSQL processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
from sqlalchemy.engine import make_url

from tests.support import Client, Server, free_port, new_chat_fields, next_id, unavailable


class RedisServer:
    """`redis-server` on a free loopback port, with nothing persisted: a restart after a
    kill comes back empty, as a Redis without persistence does."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (fault tests start their own)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        with (self.workdir / f"redis-{self.port}.log").open("ab") as log:
            self.proc = self._spawn(log)
        self._wait()
        return self

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait(self) -> None:
        assert self.proc is not None
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        """SIGKILL: gone at once, without a goodbye, its data lost."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class PostgresFaults:
    """Faults of one database (the test's own), through an admin connection elsewhere."""

    def __init__(self, admin_url: str, database_url: str) -> None:
        self.admin = make_url(admin_url)
        self.url = make_url(database_url)
        self.name = self.url.database or ""

    async def _admin(self, sql: str, *args: Any) -> None:
        conn = await asyncpg.connect(
            host=self.admin.host or "127.0.0.1",
            port=self.admin.port or 5432,
            user=self.admin.username or "postgres",
            password=self.admin.password,
            database=self.admin.database or "postgres",
            timeout=5,
        )
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def terminate_backends(self) -> None:
        """pg_terminate_backend for every connection to this database (and no other)."""
        await self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.name,
        )

    @contextlib.asynccontextmanager
    async def refusing_connections(self) -> AsyncIterator[None]:
        """New connections refused (SQLSTATE 55000) and the open ones ended meanwhile."""
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        try:
            await self.terminate_backends()
            yield
        finally:
            await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    @contextlib.asynccontextmanager
    async def messages_locked(self) -> AsyncIterator[None]:
        """`LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`, held by another connection."""
        conn = await asyncpg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or "postgres",
            password=self.url.password,
            database=self.name,
            timeout=5,
        )
        try:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                await tx.rollback()
        finally:
            await conn.close()

    async def stored(self, client_ids: list[str]) -> Counter[str]:
        conn = await asyncpg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or "postgres",
            database=self.name,
            timeout=5,
        )
        try:
            rows = await conn.fetch(
                "SELECT client_message_id, count(*) AS n FROM messages"
                " WHERE client_message_id = ANY($1::text[]) GROUP BY 1",
                client_ids,
            )
        finally:
            await conn.close()
        return Counter({r["client_message_id"]: int(r["n"]) for r in rows})


@contextlib.contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Another connection (this test process, not the server's) holds the write lock."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def sqlite_stored(path: Path, client_ids: list[str]) -> Counter[str]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        marks = ",".join("?" * len(client_ids))
        rows = conn.execute(
            "SELECT client_message_id, count(*) FROM messages"
            f" WHERE client_message_id IN ({marks}) GROUP BY 1",
            client_ids,
        ).fetchall()
    finally:
        conn.close()
    return Counter({cid: int(n) for cid, n in rows})


# --- traffic ------------------------------------------------------------------------------


@dataclass
class Pair:
    """A customer and a vendor talking about one product (each on its own node, or both
    on the same one)."""

    customer: Client
    vendor: Client
    product: str


@dataclass
class Traffic:
    """Every client sends steadily, each send with a clientMessageId, retried (same id)
    on any failure until it is acked; what every ack said is counted."""

    pairs: list[Pair]
    acked: dict[str, tuple[str, Client]] = field(default_factory=dict)  # cid -> id, to
    statuses: Counter[int | str] = field(default_factory=Counter)
    recorded_away: list[str] = field(default_factory=list)  # stored as recipientOnline: false
    _seq: int = 0

    @classmethod
    async def open(cls, customers: list[Server], vendors: list[Server], count: int) -> Traffic:
        pairs = []
        for i in range(count):
            customer = Client(customers[i % len(customers)].url, "customer", next_id())
            vendor = Client(vendors[i % len(vendors)].url, "vendor", next_id())
            await (await vendor.connect()).ready()
            await (await customer.connect()).ready()
            product = f"f-{next_id()}"
            first = await customer.call(
                "sendMessage",
                {"productId": product, "recipientId": vendor.id, "text": "hello"}
                | new_chat_fields(),
            )
            assert first["error"] is False, first
            await vendor.wait("newChat")
            pairs.append(Pair(customer, vendor, product))
        return cls(pairs)

    async def close(self) -> None:
        await asyncio.gather(
            *(c.close() for p in self.pairs for c in (p.customer, p.vendor)),
            return_exceptions=True,
        )

    def mark(self) -> int:
        """Where each client's events stand now (presence events are counted after it)."""
        return min(len(c.events) for p in self.pairs for c in (p.customer, p.vendor))

    async def _send(self, sender: Client, recipient: Client, product: str, deadline: float) -> None:
        self._seq += 1
        cid = f"{sender.role[0]}{sender.id}-{self._seq}"
        payload = {"productId": product, "recipientId": recipient.id, "text": cid}
        payload["clientMessageId"] = cid
        while True:
            try:
                ack = await sender.call("sendMessage", payload, timeout=20)
            except Exception:  # no ack in time: the same message is sent again
                self.statuses["no ack"] += 1
                continue
            if not ack.get("error"):
                self.statuses[200] += 1
                self.acked[cid] = (ack["data"]["id"], recipient)
                if not ack["data"]["recipientOnline"]:  # every recipient stays connected
                    self.recorded_away.append(cid)
                return
            self.statuses[ack["statusCode"]] += 1
            if time.monotonic() > deadline + 30:
                raise AssertionError(f"{cid} was never acked: {ack}")
            await asyncio.sleep(min(float(ack.get("retryAfter", 0.2)), 0.3))

    async def run(self, seconds: float, interval: float = 0.1) -> None:
        """Each client sends one message every `interval` for `seconds` (waiting for each
        ack, as a careful client does), then until its last send is acked."""
        deadline = time.monotonic() + seconds

        async def talk(sender: Client, recipient: Client, product: str) -> None:
            while time.monotonic() < deadline:
                await self._send(sender, recipient, product, deadline)
                await asyncio.sleep(interval)

        await asyncio.gather(
            *(talk(p.customer, p.vendor, p.product) for p in self.pairs),
            *(talk(p.vendor, p.customer, p.product) for p in self.pairs),
        )

    def missing(self) -> list[str]:
        """Acked messages that did not reach their recipient's socket, as receiveMessage
        or in a syncMessages page the server pushed (the clients never ask for one)."""
        return [cid for cid, (mid, to) in self.acked.items() if mid not in received_ids(to)]

    async def all_delivered(self, within: float = 15.0) -> list[str]:
        for _ in range(int(within / 0.2)):
            if not self.missing():
                break
            await asyncio.sleep(0.2)
        return self.missing()

    def repeated(self) -> list[tuple[int, str, int]]:
        """Messages that reached a client more than once (nobody reconnects here)."""
        return [
            (c.id, mid, n)
            for p in self.pairs
            for c in (p.customer, p.vendor)
            for mid, n in received(c).items()
            if n > 1
        ]

    def presence_events(self, since: int) -> list[tuple[int, str, Any]]:
        return [
            (c.id, name, data)
            for p in self.pairs
            for c in (p.customer, p.vendor)
            for _ns, name, data in c.events[since:]
            if name in ("userIsOnline", "userIsOffline")
        ]


def received(client: Client) -> Counter[str]:
    """How often each message reached `client`: as receiveMessage or in a pushed page."""
    ids = Counter(m["id"] for body in client.received("receiveMessage") for m in body["data"])
    for body in client.received("syncMessages"):
        for change in body["data"]["changes"]:
            if change["type"] == "message":
                ids[change["message"]["id"]] += 1
    return ids


def received_ids(client: Client) -> set[str]:
    return set(received(client))


class Readiness:
    """/readyz of each node, polled in the background: what it answered, in order."""

    def __init__(self, nodes: list[Server]) -> None:
        self.nodes = nodes
        self.seen: list[tuple[str, int, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                for node in self.nodes:
                    try:
                        r = await http.get(f"{node.url}/readyz")
                        self.seen.append((node.url, r.status_code, r.json()))
                    except httpx.HTTPError as exc:
                        self.seen.append((node.url, 0, repr(exc)))
                await asyncio.sleep(0.2)

    def __enter__(self) -> Readiness:
        self._task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def failed(self, check: str) -> bool:
        """Some node answered 503 naming `check` among the failed ones."""
        return any(
            status == 503 and check in body.get("failed", [])
            for _url, status, body in self.seen
            if isinstance(body, dict)
        )


async def ready_again(nodes: list[Server], within: float = 15.0) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for node in nodes:
            deadline = time.monotonic() + within
            while True:
                r = await http.get(f"{node.url}/readyz")
                if r.status_code == 200:
                    break
                assert time.monotonic() < deadline, r.json()
                await asyncio.sleep(0.2)


def warnings_since(server: Server, offset: int) -> list[str]:
    """The warning and error lines `server` logged after byte `offset` of its log."""
    assert server.log_path is not None
    with server.log_path.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    bad = []
    for line in lines:
        with contextlib.suppress(ValueError):
            if json.loads(line).get("level") in ("warning", "error", "critical"):
                bad.append(line)
    return bad


def log_size(server: Server) -> int:
    assert server.log_path is not None
    return server.log_path.stat().st_size
