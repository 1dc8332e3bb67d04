"""Who is connecting: the token from `auth.token`, a `token` or Bearer header, or `?token=`.

Whatever a client sends here is refused with `connect_error` 401 unless it is a valid,
unrevoked token: the payload is never trusted to have any shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import socketio

from slychat.container import Container
from slychat.domain.errors import AppError, Forbidden, Unauthorized
from slychat.domain.identity import Role
from slychat.protocol import outbound as wire
from slychat.services.auth import Credentials


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


SUSPENDED = "Account suspended"


def verified(container: Container, token: object) -> Credentials:
    """A valid token that was not revoked, or `Unauthorized`; `Forbidden` while its user
    is suspended (known in memory: services/suspensions.py)."""
    credentials = container.tokens.credentials(token)
    if container.revocations.is_revoked(credentials.token_id):
        raise Unauthorized("Token has been revoked")
    if container.suspensions.is_suspended(credentials.user):
        raise Forbidden(SUSPENDED)
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
