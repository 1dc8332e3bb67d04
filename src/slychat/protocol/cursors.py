"""Cursors: the opaque, signed `syncCursor` the wire carries for a position in a user's
change feed (services/sync.py pages the feed), and the `next` of a page of search results
(services/search.py); this only writes and reads them."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

from slychat.domain.identity import User
from slychat.domain.ids import now_ms
from slychat.domain.models import Message
from slychat.services.search import SearchPosition
from slychat.services.sync import Position
from slychat.storage import server_secrets
from slychat.storage.database import Database

# Every number in a cursor is a BIGINT of the database (a position, a user id) or an epoch
# time in ms: plain ASCII digits, no sign, no leading zero, below 2^63.
_NUMBER = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_NUMBER = 2**63 - 1
# The alphabet of unpadded urlsafe base64; a cursor holds nothing else but its dots.
_BASE64 = re.compile(r"[A-Za-z0-9_-]+")
# Cursors this server writes are well under 100 characters.
_MAX_CURSOR_CHARS = 256
# What a search cursor's signed payload starts with: never a role, so neither kind of
# cursor reads as the other.
_SEARCH = "search"
# The message id a search cursor names (ids are at most 24 characters).
_MESSAGE_ID = re.compile(r"[0-9A-Za-z_-]{1,24}")
# The name of the stored cursor key (storage.server_secrets).
STORED_KEY = "sync-cursor"


class CursorCodec:
    """Opaque, signed cursors bound to one user: `v1.<payload>.<mac>`.

    The key is SLYCHAT_CURSOR_SECRET, or one derived from the shared JWT secret; without
    either (a public-key setup), `key` is None and `load` reads the key that the first
    node generated and stored, before anything is encoded. A key is never derived from
    public material: whoever holds it could forge cursors."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key
        # The same cursor is written several times (each party's copy of a message, the
        # ack, chat lists): a cursor is a pure function of its inputs, so remember some.
        self.encode = functools.lru_cache(maxsize=4096)(self._encode)  # type: ignore[method-assign]

    async def load(self, db: Database) -> None:
        """Read (or, on the first node ever, make and store) the stored key, if needed."""
        if self._key is not None:
            return
        candidate = secrets.token_bytes(32)
        self._key = await db.write(
            lambda conn: server_secrets.get_or_create(conn, STORED_KEY, candidate, now_ms())
        )

    def _mac(self, payload: bytes) -> bytes:
        if self._key is None:
            raise RuntimeError("the cursor key is not loaded: CursorCodec.load comes first")
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def encode(self, user: User, position: Position) -> str:
        return self._encode(user, position)

    def _encode(self, user: User, position: Position) -> str:
        return self._signed(f"{user.role.value}:{user.id}:{position.pos}:{position.at}")

    def encode_search(self, user: User, position: SearchPosition) -> str:
        """A search page's `next`: where the following page starts, for `user` only."""
        return self._signed(f"{_SEARCH}:{user.role.value}:{user.id}:{position.message_id}")

    def decode_search(self, cursor: str, user: User) -> SearchPosition | None:
        """The position of a `next` this server gave `user`; None for anything else."""
        payload = self._payload(cursor)
        if payload is None:
            return None
        parts = payload.split(":")
        if len(parts) != 4 or parts[0] != _SEARCH:
            return None
        _kind, role, user_id, message_id = parts
        if not _NUMBER.fullmatch(user_id) or role != user.role.value or int(user_id) != user.id:
            return None
        if not _MESSAGE_ID.fullmatch(message_id):
            return None
        return SearchPosition(message_id)

    def _signed(self, payload: str) -> str:
        raw = payload.encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"v1.{body}.{self._mac(raw).decode()}"

    def _payload(self, cursor: str) -> str | None:
        """The signed payload of a cursor this server wrote; None for anything else."""
        if len(cursor) > _MAX_CURSOR_CHARS or not cursor.isascii():
            return None
        parts = cursor.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not all(map(_BASE64.fullmatch, parts[1:])):
            return None
        _version, body, mac = parts
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            # Compared as bytes: compare_digest refuses str holding anything but ASCII.
            if not hmac.compare_digest(mac.encode(), self._mac(payload)):
                return None
            return payload.decode("ascii")
        except ValueError:  # not base64, not ASCII
            return None

    def decode(self, cursor: str, user: User) -> Position | None:
        """The position, or None for anything this server did not issue to `user`, and for
        anything unreadable: whatever a client sends, nothing else comes out."""
        payload = self._payload(cursor)
        if payload is None:
            return None
        role, *numbers = payload.split(":")
        if len(numbers) != 3 or not all(_NUMBER.fullmatch(n) for n in numbers):
            return None
        user_id, pos, at = map(int, numbers)
        if role != user.role.value or user_id != user.id or max(pos, at) > _MAX_NUMBER:
            return None
        return Position(pos, at)

    def after(self, m: Message, viewer: User) -> str | None:
        """The cursor just after `m` in `viewer`'s feed (None: not in that feed)."""
        pos = m.feed_pos(viewer)
        return None if pos is None else self.encode(viewer, Position(pos, m.created_at))
