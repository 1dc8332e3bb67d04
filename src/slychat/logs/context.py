"""What every log line says it belongs to: an HTTP request, a socket, or a named task.

The ids are bound with structlog's contextvars, so a line logged anywhere below (services,
storage, libraries) carries the id of the work it was logged for.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import secrets
from collections.abc import Coroutine
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from structlog.contextvars import bound_contextvars

REQUEST_ID = "request_id"
SOCKET_ID = "socket"
TASK = "task"
CONTEXT_KEYS = (REQUEST_ID, SOCKET_ID, TASK)
UNBOUND_TASK = "server"  # lines outside any request, socket or named task

T = TypeVar("T")
# Socket ids are keyed hashes of the engine.io session id, which is itself a secret (it lets
# whoever holds it act on the connection): the key never leaves this process.
_SOCKET_KEY = secrets.token_bytes(16)
# The engine.io session id of the connection whose event is being handled. Set per event
# (a hot path): the hash is only computed when a line is logged (`socket_field`).
_connection: ContextVar[str | None] = ContextVar("slychat_connection", default=None)


def socket_id(session_id: str) -> str:
    """A short id of one connection for log lines, from which its session id cannot be
    told."""
    return hashlib.blake2b(session_id.encode(), key=_SOCKET_KEY, digest_size=6).hexdigest()


def enter_socket(session_id: str) -> Token[str | None]:
    """Lines logged from here on (until `leave_socket`) name this connection."""
    return _connection.set(session_id)


def leave_socket(token: Token[str | None]) -> None:
    _connection.reset(token)


def socket_field() -> str | None:
    """The socket id of the connection being handled, if any."""
    session_id = _connection.get()
    return None if session_id is None else socket_id(session_id)


async def as_task(name: str, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` with every line it logs saying `task=<name>`."""
    with bound_contextvars(**{TASK: name}):
        return await work


def start_task(name: str, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """`work` as a task of its own, whose lines say `task=<name>` and nothing of the
    request or socket that happened to start it (a batch serves many)."""
    return asyncio.get_running_loop().create_task(
        as_task(name, work), context=contextvars.Context()
    )
