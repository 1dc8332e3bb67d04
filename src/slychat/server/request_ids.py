"""An id for every HTTP request and websocket, bound to its log lines and echoed to the
client in `X-Request-Id` (a proxy's own id is kept when it is short and plain)."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from slychat.logs.context import REQUEST_ID, TASK

HEADER = b"x-request-id"
# What an incoming id may be: anything else (long, or with characters a log reader could
# trip on) is replaced by one of ours.
_SAFE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            return value.decode("ascii") if _SAFE_ID.fullmatch(value) else None
    return None


class RequestIds:
    """Pure ASGI middleware around the whole app (Socket.IO's requests included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            with bound_contextvars(**{TASK: "lifespan"}):
                await self.app(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or secrets.token_hex(8)
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        with bound_contextvars(**{REQUEST_ID: request_id}):
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
