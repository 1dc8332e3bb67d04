"""JWT verification: the marketplace platform's token shape and standard claims."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt

from slychat.errors import Unauthorized
from slychat.identity import Role, User

_ASYMMETRIC_PREFIXES = ("RS", "ES", "PS", "Ed")
_CLOCK_LEEWAY_SECONDS = 30


class TokenService:
    """Verifies tokens against the configured key and algorithms, and mints dev tokens."""

    def __init__(
        self, secret: str | None, algorithms: list[str], public_key: str | None = None
    ) -> None:
        self.algorithms = [a for a in algorithms if a.lower() != "none"]
        if not self.algorithms:
            raise ValueError("at least one JWT algorithm other than 'none' is required")
        self.dev_mode = not secret and not public_key
        self._signing_key = secret or (secrets.token_urlsafe(32) if self.dev_mode else None)
        self._public_key = public_key

    def derive_key(self, label: str) -> bytes:
        """A key for another purpose (signing sync cursors), derived from the token key."""
        base = self._signing_key or self._public_key or ""
        return hmac.new(base.encode(), label.encode(), hashlib.sha256).digest()

    def verify(self, token: str | None) -> User:
        if not token:
            raise Unauthorized("Authentication token is missing")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self.algorithms:
                raise Unauthorized("Token algorithm is not accepted")
            # The key follows the algorithm: a public key must never serve as an HMAC secret.
            key = (
                self._public_key
                if str(algorithm).startswith(_ASYMMETRIC_PREFIXES)
                else self._signing_key
            )
            if key is None:
                raise Unauthorized("Token algorithm is not accepted")
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                # Integer `sub` is how many platforms write user ids; and a little leeway
                # absorbs clock drift between the platform issuing tokens and this server.
                options={"verify_aud": False, "verify_sub": False},
                leeway=_CLOCK_LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("Token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        return user_from_claims(claims)

    def mint(self, user: User, ttl_seconds: int = 3600, shape: str = "platform") -> str:
        """A token for development and tests, signed with the configured secret."""
        if self._signing_key is None or self.algorithms[0].startswith(_ASYMMETRIC_PREFIXES):
            raise ValueError("minting needs a shared secret (HS*) configuration")
        now = int(time.time())
        claims: dict[str, Any] = {"iat": now, "exp": now + ttl_seconds}
        if shape == "platform":
            claims |= {"data": {"id": user.id}, "types": [user.role.value.lower()]}
        else:
            claims |= {"sub": str(user.id), "role": user.role.value.lower()}
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithms[0])


def user_from_claims(claims: Mapping[str, Any]) -> User:
    """Read (role, id) from either the platform shape or standard claims."""
    data = claims.get("data")
    if isinstance(data, Mapping) and "id" in data:
        raw_id: Any = data.get("id")
        types = claims.get("types")
        raw_role: Any = types[0] if isinstance(types, list) and types else None
    else:
        raw_id = claims.get("sub")
        raw_role = claims.get("role")
    try:
        role = Role(str(raw_role).upper())
    except ValueError as exc:
        raise Unauthorized("Token has no valid role") from exc
    return User(role, parse_user_id(raw_id, Unauthorized("Token has no valid user id")))


def parse_user_id(raw: Any, error: Exception) -> int:
    """User ids are integers; digit strings are accepted. Anything else raises `error`."""
    if isinstance(raw, bool):
        raise error
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        value = int(raw.strip())
    else:
        raise error
    if not 0 <= value < 2**63:
        raise error
    return value
