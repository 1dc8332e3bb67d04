"""Where media files live: one interface, a local directory or an S3-compatible bucket.

Keys are chosen by the caller (`new_key`): unguessable, and ending in the extension of the
type the server decided from the file's bytes, so a key alone says how to serve it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# The extensions slychat stores, and the type each is served as.
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
}
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}\.(" + "|".join(CONTENT_TYPES) + r")$")


def new_key(extension: str) -> str:
    """A fresh, unguessable key (192 random bits) for a file of this extension."""
    if extension not in CONTENT_TYPES:
        raise ValueError(f"not a stored extension: {extension!r}")
    return f"{secrets.token_urlsafe(24)}.{extension}"


def is_key(text: str) -> bool:
    return KEY_PATTERN.fullmatch(text) is not None


def content_type_of(key: str) -> str:
    return CONTENT_TYPES[key.rsplit(".", 1)[1]]


@dataclass(frozen=True, slots=True)
class LocalFile:
    """The file is on this machine: serve it."""

    path: Path


@dataclass(frozen=True, slots=True)
class Redirect:
    """The file is elsewhere: send the client there."""

    url: str


class MediaStore(Protocol):
    async def open(self) -> None:
        """Connect, if the store needs to; called once at start."""
        ...

    async def put(self, key: str, source: Path) -> None:
        """Store the file at `source` under `key` (the source may be moved or copied)."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these keys; a key that is not there is no error."""
        ...

    def keys_older_than(self, age: float) -> AsyncIterator[str]:
        """Every stored key last written more than `age` seconds ago (the orphan sweep)."""
        ...

    def url(self, key: str) -> str:
        """The URL clients are given for `key`; stable, so listings can carry it."""
        ...

    async def locate(self, key: str) -> LocalFile | Redirect | None:
        """How the server's own media route answers for `key`; None when it is unknown."""
        ...

    async def check_writable(self) -> None:
        """Raise unless a file can be written and removed now (readiness)."""
        ...

    async def close(self) -> None: ...


async def release(store: MediaStore, keys: Sequence[str]) -> None:
    """Remove files that no row names any more. A failure is logged, not raised: the
    change that released them has committed, and the orphan sweep removes them later."""
    if not keys:
        return
    try:
        await store.delete(keys)
    except Exception:
        log.exception("removing %d media files failed; the orphan sweep will retry", len(keys))
