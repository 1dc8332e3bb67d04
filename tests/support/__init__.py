"""Test support: real slychat servers on free loopback ports, and recording clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import itertools
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import launcher

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-0123456789abcdef0123456789"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Rate limits stay on in every test server, at rates no test reaches by chance: tests
# that send bursts are not about limits; tests/e2e/test_limits.py sets its own.
GENEROUS_RATES = {
    f"SLYCHAT_RATE_{name}": "100000/s"
    for name in ("MESSAGES", "TYPING", "UPLOADS", "NEW_CHATS", "EVENTS")
}

_ids = itertools.count(random.randint(10_000, 10_000_000) * 100)

# End-to-end tests run on both engines; these marks keep one. ON_SQLITE: the subject does
# not depend on the engine (the storage suite runs the queries beneath it on both).
# ON_POSTGRES: several processes share the database.
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def unavailable(message: str) -> NoReturn:
    """A tool or service a test needs is missing: in CI that fails the test (CI installs
    everything), elsewhere the test is skipped with `message`."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def b64url(raw: bytes) -> str:
    """base64url without padding, as the segments of a JWT are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_cursor(payload: str, key: bytes) -> str:
    """A sync cursor of any payload (`ROLE:user:pos:at` or anything else), signed with `key`
    as the server signs: what a holder of the key could write."""
    raw = payload.encode("utf-8", "surrogatepass")
    return f"v1.{b64url(raw)}.{b64url(hmac.new(key, raw, hashlib.sha256).digest()[:16])}"


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    """A validator of `schema`, its `#/components/...` references resolved in `document`."""
    root = schema | {"components": document["components"]}
    return jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


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


# What a refusal's message must never say: the validator's own phrasing and the names it
# gives its parts (union members, functions), which tell a client nothing it sent.
_VALIDATOR_WORDS = (
    "Input should",
    "String should",
    "Value should",
    "Field required",
    "Value error",
    "after validation",
    "function-",
    "functools",
    "validator",
    "pydantic",
)


def speaks_the_protocol(message: str) -> bool:
    """Whether a refusal's message is in the protocol's words (docs/protocol.md, Errors)."""
    return bool(message.strip()) and not any(w in message for w in _VALIDATOR_WORDS)


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


@functools.cache
def rsa_keys() -> tuple[str, str]:
    """(private PEM, public PEM) of an RSA key made for this test session."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def rs256(role: str, user_id: int) -> str:
    now = int(time.time())
    claims = {"iat": now, "exp": now + 3600, "sub": str(user_id), "role": role}
    return jwt.encode(claims, rsa_keys()[0], algorithm="RS256")


@dataclass
class Server:
    """A `slychat serve` process."""

    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: launcher.ServerProcess | None = None
    log_path: Path | None = None
    media_dir: Path | None = None
    # The address as SLYCHAT_HOST/SLYCHAT_PORT instead of `serve --host/--port`.
    address_in_env: bool = False

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
        } | GENEROUS_RATES
        # SLYCHAT_PUBLIC_URL follows the address, wherever it is given.
        if self.address_in_env:
            env |= {"SLYCHAT_HOST": "127.0.0.1", "SLYCHAT_PORT": str(self.port)}
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
        logged_before = self.log_path.stat().st_size if self.log_path.exists() else 0
        address = [] if self.address_in_env else ["--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = launcher.start(
            ["serve", *address, *self.args], self.environment(), self.log_path
        )
        # Generous: several workers start servers at once, and a busy machine's imports alone
        # can take tens of seconds.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response,
            ):
                if response.status == 200 and self._bound_here(logged_before):
                    return self
            time.sleep(0.1)
        self.stop()  # never left running behind the failure
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def _bound_here(self, logged_before: int) -> bool:
        """This process holds the port (uvicorn said so in its log): the server answering
        is not another test process's that happened to get the same free port."""
        assert self.log_path is not None
        if self.environment().get("SLYCHAT_LOG_LEVEL", "info").lower() not in ("debug", "info"):
            return True  # uvicorn does not say under a quieter level (the benchmarks' servers)
        with self.log_path.open("rb") as log:
            log.seek(logged_before)
            return f"Uvicorn running on {self.url}".encode() in log.read()

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


@contextlib.contextmanager
def nodes_sharing(
    database_url: str, log_dir: Path, count: int = 2, **env: str
) -> Iterator[list[Server]]:
    """`count` nodes on one database (PostgreSQL: SQLite is the single-node default), each
    with `env`; stopped after, the ones started so far if a start fails."""
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(Server(database_url, env=env).start(log_dir))
        yield started
    finally:
        for node in started:
            node.stop()


@contextlib.contextmanager
def servers_by_mode(
    database_url: str, log_dir: Path, modes: dict[str, dict[str, str]]
) -> Iterator[dict[str, str]]:
    """One server per mode (name -> its env) on one migrated database: mode -> base URL;
    stopped after, the ones started so far if a start fails."""
    Server(database_url).migrate()
    started: list[Server] = []
    try:
        for env in modes.values():
            started.append(Server(database_url, env=env).start(log_dir))
        yield {mode: srv.url for mode, srv in zip(modes, started, strict=True)}
    finally:
        for srv in started:
            srv.stop()


# How long `Client.call` waits for an ack (python-socketio keeps a call waiting that long
# even after a disconnect).
CALL_TIMEOUT = 10.0


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
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def received(self, event: str, ns: str = "/chat") -> list[Any]:
        return [d for n, e, d in self.events if n == ns and e == event]

    async def call(
        self, event: str, data: Any = None, ns: str = "/chat", timeout: float = CALL_TIMEOUT
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
                async with asyncio.timeout(0.5):
                    await self._changed.wait()

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


def text_is(text: str) -> Callable[[Any], bool]:
    """A `Client.wait` filter: the event's first message reads `text` (a loop's expected text
    bound when the filter is made)."""
    return lambda d: bool(d["data"][0]["text"] == text)


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
            async with asyncio.timeout(timeout + 2):
                await self.sio.connect(
                    url,
                    namespaces=list(namespaces),
                    auth=auth,
                    headers=headers or {},
                    transports=list(transports),
                    wait_timeout=timeout,
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
            async with asyncio.timeout(5):
                await self.sio.disconnect()
