"""Who is connecting: the token from `auth.token`, a `token` or Bearer header, or `?token=`.

Whatever a client sends here is refused with `connect_error` 401 unless it is a valid,
unrevoked token: the payload is never trusted to have any shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import socketio

from slychat.container import Container
from slychat.errors import AppError, Forbidden, NotFound, Unauthorized
from slychat.identity import Role
from slychat.services.auth import Credentials
from slychat.transport import wire


def token_from(environ: Mapping[str, Any], auth: Any) -> object:
    """The token as the client sent it (possibly not a string: `credentials` refuses it)."""
    if isinstance(auth, Mapping) and auth.get("token") is not None:
        given = auth["token"]
        return given.removeprefix("Bearer ").strip() if isinstance(given, str) else given
    header = environ.get("HTTP_TOKEN")
    if header:
        return str(header).strip()
    bearer = bearer_token(environ.get("HTTP_AUTHORIZATION"))
    if bearer:
        return bearer
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    values = query.get("token")
    return values[0] if values else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def verified(container: Container, token: object) -> Credentials:
    """A valid token that was not revoked, or `Unauthorized`."""
    credentials = container.tokens.credentials(token)
    if container.revocations.is_revoked(credentials.token_id):
        raise Unauthorized("Token has been revoked")
    return credentials


def authenticate(
    container: Container, environ: Mapping[str, Any], auth: Any, allowed: frozenset[Role]
) -> Credentials:
    """The connecting user's credentials, or a refusal the client sees as `connect_error`."""
    try:
        credentials = verified(container, token_from(environ, auth))
        role = credentials.user.role
        if role not in allowed:
            raise Forbidden(f"{role.value.lower()} accounts cannot use this namespace")
    except AppError as exc:
        raise refusal(exc) from exc
    return credentials


def refusal(exc: AppError) -> socketio.exceptions.ConnectionRefusedError:
    """`connect_error` carrying `{error: true, message, statusCode}`."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, wire.error(exc))


class DefaultNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """`/`: python-socketio admits it unless told otherwise, and a socket there would sit
    beside the real namespaces with no handler, holding a connection. Refused."""

    def __init__(self) -> None:
        super().__init__("/")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        raise refusal(NotFound("Connect to the /presence and /chat namespaces"))
