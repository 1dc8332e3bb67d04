"""Test support: real slychat servers on free loopback ports, and recording clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import socketio

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-0123456789abcdef0123456789"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Rate limits stay on in every test server, at rates no test reaches by chance: tests
# that send bursts are not about limits; tests/e2e/test_limits.py sets its own.
GENEROUS_RATES = {
    f"SLYCHAT_RATE_{name}": "100000/s"
    for name in ("MESSAGES", "TYPING", "UPLOADS", "NEW_CHATS", "EVENTS")
}

_ids = itertools.count(random.randint(10_000, 10_000_000) * 100)


def next_id() -> int:
    """A user id no other test of this session uses."""
    return next(_ids)


async def postgres_admin(admin_url: str, sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the PostgreSQL server at `admin_url`."""
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    conn = await asyncpg.connect(
        host=admin.host or "127.0.0.1",
        port=admin.port or 5432,
        user=admin.username or "postgres",
        password=admin.password,
        database=admin.database or "postgres",
        timeout=5,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def http_refusal(response: Any, status: int) -> dict[str, Any]:
    """The body of an HTTP error answer: `status`, with slychat's error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] is True
    assert body["statusCode"] == status
    assert isinstance(body["message"], str)
    return dict(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(
    role: str,
    user_id: int,
    *,
    secret: str = SECRET,
    shape: str = "platform",
    ttl: int = 3600,
    **extra: Any,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now, "exp": now + ttl}
    if shape == "platform":
        claims |= {"data": {"id": user_id}, "types": [role]}
    else:
        claims |= {"sub": str(user_id), "role": role}
    claims |= extra
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class Server:
    """A `slychat serve` process."""

    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    media_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
        env |= {
            "SLYCHAT_DATABASE_URL": self.database_url,
            "SLYCHAT_JWT_SECRET": SECRET,
            # Every request's line is in the log, which the session's end checks
            # (tests/conftest.py `_server_logs_are_json_lines`).
            "SLYCHAT_LOG_LEVEL": "info",
            "SLYCHAT_PRESENCE_GRACE": "1.0",
            "SLYCHAT_PUBLIC_URL": self.url,
        } | GENEROUS_RATES
        if self.media_dir is not None:
            env["SLYCHAT_MEDIA_DIR"] = str(self.media_dir)
        return env | self.env

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "slychat", "migrate"],
            env=self.environment(),
            check=True,
            capture_output=True,
            cwd=ROOT,
        )

    @property
    def dev_mode(self) -> bool:
        """No key configured: the server prints a banner with tokens, and readable lines."""
        env = self.environment()
        return not env.get("SLYCHAT_JWT_SECRET") and not env.get("SLYCHAT_JWT_PUBLIC_KEY")

    def start(self, log_dir: Path) -> Server:
        # Production servers' logs are `server-*.log`: the session's end checks each line.
        kind = "dev-server" if self.dev_mode else "server"
        self.log_path = log_dir / f"{kind}-{self.port}.log"
        if self.media_dir is None:  # never the checkout's ./media
            self.media_dir = log_dir / f"media-{self.port}"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "slychat",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Client:
    """One Socket.IO connection (one browser tab) carrying /presence and /chat, recording
    every event it receives."""

    def __init__(self, server_url: str, role: str, user_id: int, **sio_options: Any) -> None:
        self.url = server_url
        self.role = role
        self.id = user_id
        # sio_options: python-socketio client options (e.g. its own aiohttp `http_session`).
        self.sio = socketio.AsyncClient(reconnection=False, **sio_options)
        self.events: list[tuple[str, str, Any]] = []
        self._taken: set[int] = set()
        self._changed = asyncio.Event()
        for ns in ("/presence", "/chat"):
            self.sio.on("*", self._recorder(ns), namespace=ns)

    @property
    def user_type(self) -> str:
        return self.role.upper()

    def _recorder(self, ns: str) -> Callable[..., Any]:
        async def record(event: str, *args: Any) -> None:
            self.events.append((ns, event, args[0] if len(args) == 1 else list(args)))
            self._changed.set()

        return record

    async def connect(
        self,
        namespaces: tuple[str, ...] = ("/presence", "/chat"),
        *,
        auth: dict[str, Any] | None = None,
        transports: list[str] | None = None,
    ) -> Client:
        await self.sio.connect(
            self.url,
            namespaces=list(namespaces),
            auth=auth if auth is not None else {"token": token(self.role, self.id)},
            transports=transports or ["websocket"],
            wait_timeout=10,
        )
        return self

    async def ready(self) -> Client:
        """Connected and through the /chat handshake (userChats and offlineMessages)."""
        await self.wait("offlineMessages")
        return self

    async def wait(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda _d: True,
        ns: str = "/chat",
        timeout: float = 10.0,
    ) -> Any:
        """The oldest not yet taken `event` on `ns` that matches `where`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, (e_ns, e_name, data) in enumerate(self.events):
                if i not in self._taken and e_ns == ns and e_name == event and where(data):
                    self._taken.add(i)
                    return data
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [(n, e) for n, e, _ in self.events]
                raise AssertionError(f"{self.role} {self.id}: no {event} on {ns}; saw {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def received(self, event: str, ns: str = "/chat") -> list[Any]:
        return [d for n, e, d in self.events if n == ns and e == event]

    async def call(
        self, event: str, data: Any = None, ns: str = "/chat", timeout: float = 10.0
    ) -> Any:
        """Emit with an ack callback and return the ack's argument."""
        args = () if data is None else (data,)
        return await self.sio.call(event, *args, namespace=ns, timeout=timeout)

    async def request(self, event: str, data: Any = None, reply: str | None = None) -> Any:
        """A list request: the list comes as the `reply` event (the event's own name by
        default) and the ack is a small confirmation of it, checked here; the reply's
        body, or the error the ack carried."""
        mark = len(self.events)
        ack = await self.call(event, data)
        if ack.get("error"):
            return ack
        name = reply or event
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            for i in range(mark, len(self.events)):
                e_ns, e_name, body = self.events[i]
                if e_ns == "/chat" and e_name == name and i not in self._taken:
                    self._taken.add(i)
                    check_confirmation(ack, body)
                    return body
            assert asyncio.get_running_loop().time() < deadline, f"no {name} after {event}"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.5)

    async def emit(self, event: str, data: Any = None, ns: str = "/chat") -> None:
        args = () if data is None else (data,)
        await self.sio.emit(event, *args, namespace=ns)

    async def kill_transport(self) -> None:
        """Cut the TCP connection under the client, as a network blip does: no goodbye."""
        ws = self.sio.eio.ws
        if ws is not None and ws._conn is not None and ws._conn.transport is not None:
            ws._conn.transport.abort()
        for _ in range(100):
            if not self.sio.connected:
                break
            await asyncio.sleep(0.02)

    def last(self, event: str, ns: str = "/chat") -> Any:
        found = self.received(event, ns)
        return found[-1] if found else None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


def check_confirmation(ack: dict[str, Any], body: dict[str, Any]) -> None:
    """A list reply's ack says how much the event carried, and no more."""
    data = body["data"]
    if isinstance(data, list):  # userChats, offlineMessages
        listed, has_more = data, body["hasMore"]
    elif "changes" in data:  # syncMessages
        listed, has_more = data["changes"], data["hasMore"]
    else:  # loadMessages: a chat
        listed, has_more = data["messages"], data["hasMore"]
    assert ack["error"] is False
    assert ack["message"] == body["message"]
    assert ack["data"]["count"] == len(listed)
    assert ack["data"]["hasMore"] == has_more
    cursor = body.get("syncCursor") or (data.get("syncCursor") if isinstance(data, dict) else None)
    assert ack["data"].get("syncCursor") == cursor


def new_chat_fields(**overrides: Any) -> dict[str, Any]:
    fields = {
        "productName": "Wireless Headphones",
        "productPrice": "299.99",
        "productImageUrl": "https://example.com/product-image.jpg",
        "storeName": "Tech Haven",
        "storeLogoUrl": "https://example.com/store-logo.png",
        "customerName": "John Doe",
        "customerProfilePic": "https://example.com/buyer-profile.jpg",
    }
    return fields | overrides


BOTH_NAMESPACES = ("/presence", "/chat")


class RawClient:
    """A bare python-socketio connection for handshake tests: per namespace, it records
    the events, the connect errors and whether the server dropped it."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, str, Any]] = []
        self.errors: dict[str, list[Any]] = {ns: [] for ns in ("/", *BOTH_NAMESPACES)}
        self.dropped: dict[str, bool] = dict.fromkeys(BOTH_NAMESPACES, False)
        self.refused: Exception | None = None
        self.elapsed = 0.0  # how long the last connect took
        for ns in ("/", *BOTH_NAMESPACES):
            self.sio.on("connect_error", self._error(ns), namespace=ns)
            self.sio.on("*", self._record(ns), namespace=ns)
        for ns in BOTH_NAMESPACES:
            self.sio.on("disconnect", self._disconnected(ns), namespace=ns)

    def _error(self, ns: str) -> Callable[..., Any]:
        async def handler(data: Any = None, *_: Any) -> None:
            self.errors[ns].append(data)

        return handler

    def _record(self, ns: str) -> Callable[..., Any]:
        async def handler(event: str, *args: Any) -> None:
            self.events.append((ns, event, args[0] if len(args) == 1 else list(args)))

        return handler

    def _disconnected(self, ns: str) -> Callable[..., Any]:
        async def handler(*_: Any) -> None:
            self.dropped[ns] = True

        return handler

    async def connect(
        self,
        url: str,
        namespaces: tuple[str, ...] = BOTH_NAMESPACES,
        auth: Any = None,
        *,
        headers: dict[str, str] | None = None,
        transports: tuple[str, ...] | list[str] = ("websocket",),
        timeout: float = 5.0,
    ) -> bool:
        """True when every namespace was admitted; False when refused. A refusal comes at
        once on loopback; a handshake that hangs fails within `timeout`."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(
                self.sio.connect(
                    url,
                    namespaces=list(namespaces),
                    auth=auth,
                    headers=headers or {},
                    transports=list(transports),
                    wait_timeout=timeout,
                ),
                timeout + 2,
            )
        except socketio.exceptions.ConnectionError as exc:
            self.refused = exc
            return False
        finally:
            self.elapsed = time.monotonic() - started
        return True

    async def wait(self, event: str, ns: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for e_ns, name, data in self.events:
                if e_ns == ns and name == event:
                    return data
            assert time.monotonic() < deadline, f"no {event} on {ns}: {self.events}"
            await asyncio.sleep(0.02)

    async def wait_dropped(self, ns: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.dropped[ns]:
            assert time.monotonic() < deadline, f"{ns} still connected after {timeout}s"
            await asyncio.sleep(0.02)

    def app_errors(self, ns: str) -> list[Any]:
        return [d for e_ns, name, d in self.events if e_ns == ns and name == "appError"]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 5)
