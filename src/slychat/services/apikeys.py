"""API keys of the server-to-server API: `slyk_<id>_<secret>`, stored as the SHA-256 of
the secret, each with its scopes. A key is looked up on every request, so revoking it
takes effect on the next one, on every node."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Forbidden, Invalid, NotFound, Unauthorized
from slychat.domain.ids import new_id, now_ms
from slychat.storage import apikeys as store
from slychat.storage.apikeys import ApiKeyRow
from slychat.storage.database import Database

PREFIX = "slyk_"
_KEY = re.compile(r"slyk_([0-9a-f]{24})_([A-Za-z0-9_-]{20,128})")
# A use is written at most this often per key: a write per request would cost more than
# the request, and "last used" needs no better than a minute.
TOUCH_INTERVAL_MS = 60_000


class Scope(StrEnum):
    CHATS_READ = "chats:read"  # list a user's chats, read a chat's history
    CHATS_WRITE = "chats:write"  # open a chat, post a system message
    CHATS_EXPORT = "chats:export"  # export a whole chat
    USERS_ERASE = "users:erase"  # erase a user's data
    # read reports (with their snapshots), suspensions and moderation rules
    MODERATION_READ = "moderation:read"
    # resolve reports, suspend and lift, add and delete moderation rules
    MODERATION_WRITE = "moderation:write"


_SCOPE_NAMES = frozenset(s.value for s in Scope)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as listed: never its secret nor its hash."""

    id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


def parse_scopes(names: list[str]) -> tuple[Scope, ...]:
    """The scopes `names` name, deduplicated; Invalid for an unknown one."""
    try:
        return tuple(dict.fromkeys(Scope(name.strip()) for name in names))
    except ValueError as exc:
        known = ", ".join(s.value for s in Scope)
        raise Invalid(f"unknown scope ({exc}); the scopes are {known}") from exc


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _listed(row: ApiKeyRow) -> ApiKey:
    scopes = tuple(Scope(s) for s in row.scopes if s in _SCOPE_NAMES)
    return ApiKey(row.id, row.name, scopes, row.created_at, row.last_used_at, row.revoked_at)


class ApiKeyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, scopes: tuple[Scope, ...]) -> tuple[ApiKey, str]:
        """A new key and its full text, which is shown once and never stored."""
        if not name.strip():
            raise Invalid("a key needs a name")
        if not scopes:
            raise Invalid("a key needs at least one scope")
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            new_id(), name.strip(), _digest(secret), tuple(scopes), now_ms(), None, None
        )

        async def work(conn: AsyncConnection) -> None:
            await store.insert(conn, row)

        await self.db.write(work)
        return _listed(row), f"{PREFIX}{row.id}_{secret}"

    async def list(self) -> list[ApiKey]:
        async with self.db.read() as conn:
            return [_listed(row) for row in await store.every(conn)]

    async def revoke(self, key_id: str) -> None:
        async def work(conn: AsyncConnection) -> bool:
            return await store.revoke(conn, key_id, now_ms())

        if not await self.db.write(work):
            raise NotFound(f"no API key {key_id}")

    async def verify(self, presented: str | None, scope: Scope) -> ApiKey:
        """The key `presented` if it is live and carries `scope`: Unauthorized for no key,
        a malformed, unknown, wrong or revoked one; Forbidden without the scope."""
        match = _KEY.fullmatch(presented or "")
        if match is None:
            raise Unauthorized("An API key is required: Authorization: Bearer slyk_...")
        key_id, secret = match.groups()
        async with self.db.read() as conn:
            row = await store.by_id(conn, key_id)
        # The digest is compared even when there is no row, so that an unknown id takes
        # as long as a wrong secret.
        stored = row.secret_hash if row is not None else "0" * 64
        # As bytes: compare_digest raises on a str holding anything but ASCII.
        if not hmac.compare_digest(stored.encode(), _digest(secret).encode()) or row is None:
            raise Unauthorized("Invalid API key")
        if row.revoked_at is not None:
            raise Unauthorized("This API key has been revoked")
        if scope.value not in row.scopes:
            raise Forbidden(f"This API key lacks the scope {scope.value}")
        now = now_ms()
        if row.last_used_at is None or row.last_used_at < now - TOUCH_INTERVAL_MS:

            async def touch(conn: AsyncConnection) -> None:
                await store.touch(conn, key_id, now, now - TOUCH_INTERVAL_MS)

            await self.db.write(touch)
        return _listed(row)
