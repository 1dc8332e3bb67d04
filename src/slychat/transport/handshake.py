"""Who is connecting: the token from `auth.token`, a `token` or Bearer header, or `?token=`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import socketio

from slychat.errors import AppError, Forbidden
from slychat.identity import Role, User
from slychat.services.auth import TokenService
from slychat.transport import wire


def token_from(environ: Mapping[str, Any], auth: Any) -> str | None:
    if isinstance(auth, Mapping) and isinstance(auth.get("token"), str):
        return str(auth["token"]).removeprefix("Bearer ").strip() or None
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


def authenticate(
    tokens: TokenService, environ: Mapping[str, Any], auth: Any, allowed: frozenset[Role]
) -> User:
    """The connecting user, or a refusal the client sees as `connect_error`."""
    try:
        user = tokens.verify(token_from(environ, auth))
        if user.role not in allowed:
            raise Forbidden(f"{user.role.value.lower()} accounts cannot use this namespace")
    except AppError as exc:
        raise socketio.exceptions.ConnectionRefusedError(exc.message, wire.error(exc)) from exc
    return user
