"""Media messages: files received as a stream, checked by their bytes, made safe, stored,
and sent as a message through the same path as `sendMessage`.

A file's life: it streams into a temporary file (`Upload`), whose first bytes decide its
type and whose size is counted as it arrives; images are decoded and re-encoded (nothing
the client sent is served); the results go to the media store; then one transaction
stores the message with its media rows. If that transaction fails, the stored files are
removed at once; if the process dies in between, the orphan sweep removes them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import BinaryIO

from slychat.domain.errors import Invalid, TooLarge, UnsupportedMedia
from slychat.domain.identity import User
from slychat.domain.ids import new_id
from slychat.domain.models import Media
from slychat.media.images import Rendition, make_safe
from slychat.media.kinds import SNIFF_BYTES, FileType, MediaKind, sniff
from slychat.media.store import MediaStore, new_key, release
from slychat.services.messages import MessageService, SendCommand, Sent
from slychat.storage import repository as repo
from slychat.storage.database import Database

log = logging.getLogger(__name__)

_NAMES = {MediaKind.IMAGE: "an image", MediaKind.PDF: "a PDF", MediaKind.VIDEO: "a video"}


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: dict[MediaKind, int]
    max_files: int
    max_pixels: int
    thumbnail_size: int


class Upload:
    """One file of an upload, written to a temporary file as it arrives. Its first bytes
    decide its type, which must be of the route's kind; its size is checked on every
    chunk, so an oversize file is refused as soon as it crosses the limit."""

    def __init__(self, kind: MediaKind, limit: int, workdir: Path) -> None:
        self.kind = kind
        self.limit = limit
        fd, name = tempfile.mkstemp(dir=workdir, prefix=".upload-")
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._head = b""
        self.size = 0
        self.file_type: FileType | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"The file is larger than the limit of {readable_size(self.limit)}")
        if self.file_type is None:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._decide()
        if self._file is not None:
            self._file.write(chunk)

    def finish(self) -> None:
        """The file is complete."""
        self._close()
        if self.size == 0:
            raise Invalid("An uploaded file is empty")
        if self.file_type is None:
            self._decide()

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)

    def _decide(self) -> None:
        found = sniff(self._head)
        if found is None or found.kind is not self.kind:
            raise UnsupportedMedia(f"The file is not {_NAMES[self.kind]} this route accepts")
        self.file_type = found

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class MediaService:
    def __init__(
        self,
        db: Database,
        store: MediaStore,
        messages: MessageService,
        limits: MediaLimits,
        workdir: Path,
        sweep_grace: float,
    ) -> None:
        self.db = db
        self.store = store
        self.messages = messages
        self.limits = limits
        self.workdir = workdir
        self.sweep_grace = sweep_grace
        self.stored_bytes = 0  # bytes put in the store (renditions included), for /metrics
        # Decoding a large image takes its whole bitmap in memory and a core's time: two at
        # a time, off the event loop, always on the same two threads (the C allocator
        # keeps each thread's freed bitmaps for reuse; more threads would keep more).
        self._decoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="image")

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)

    def receive(self, kind: MediaKind) -> Upload:
        """A new file of `kind` to stream into."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        return Upload(kind, self.limits.max_bytes[kind], self.workdir)

    async def send(self, sender: User, cmd: SendCommand, uploads: Sequence[Upload]) -> Sent:
        """Store the files, then the message that carries them (as `sendMessage` does).
        The uploads' temporary files are gone when this returns."""
        try:
            # Refused before any file is made safe and stored.
            recipient = User(sender.role.counterpart, cmd.recipient_id)
            self.messages.refuse_blocked(sender, recipient)
            if not uploads:
                raise Invalid("Attach at least one file")
            if len(uploads) > self.limits.max_files:
                raise TooLarge(f"At most {self.limits.max_files} files per message")
            media = await self._keep(uploads)
        finally:
            for upload in uploads:
                upload.discard()
        keys = _keys(media)
        try:
            sent = await self.messages.send(sender, replace(cmd, media=media))
        except BaseException:
            await release(self.store, keys)
            raise
        if sent.duplicate:  # a retry: the first attempt's files are the message's
            await release(self.store, keys)
        return sent

    async def _keep(self, uploads: Sequence[Upload]) -> tuple[Media, ...]:
        """Each upload made safe and put in the store; nothing stays stored on failure."""
        kept: list[Media] = []
        try:
            for upload in uploads:
                kept.append(await self._keep_one(upload))
        except BaseException:
            await release(self.store, _keys(kept))
            raise
        return tuple(kept)

    async def _keep_one(self, upload: Upload) -> Media:
        file_type = upload.file_type
        if file_type is None:  # pragma: no cover - finish() decides or raises
            raise UnsupportedMedia()
        if file_type.kind is not MediaKind.IMAGE:
            key = new_key(file_type.extension)
            await self.store.put(key, upload.path)
            self.stored_bytes += upload.size
            return Media(new_id(), key, file_type.mime, upload.size)
        image, thumbnail = await asyncio.get_running_loop().run_in_executor(
            self._decoders,
            partial(
                make_safe,
                upload.path,
                file_type,
                self.workdir,
                max_pixels=self.limits.max_pixels,
                thumbnail_size=self.limits.thumbnail_size,
            ),
        )
        key, thumbnail_key = new_key(file_type.extension), new_key(file_type.extension)
        try:
            await self.store.put(key, image.path)
            try:
                await self.store.put(thumbnail_key, thumbnail.path)
            except BaseException:
                await release(self.store, [key])
                raise
            self.stored_bytes += image.size + thumbnail.size
        finally:
            _remove(image, thumbnail)
        return Media(
            new_id(), key, file_type.mime, image.size, thumbnail_key, image.width, image.height
        )

    async def sweep(self) -> int:
        """Remove stored files that no row names and that are older than the grace period
        (younger ones may belong to an upload whose transaction is still running); and
        temporary files that a crashed upload left behind. The number of files removed."""
        removed = 0
        batch: list[str] = []
        async for key in self.store.keys_older_than(self.sweep_grace):
            batch.append(key)
            if len(batch) >= 500:
                removed += await self._remove_orphans(batch)
                batch = []
        removed += await self._remove_orphans(batch)
        removed += await asyncio.to_thread(self._remove_stale_uploads)
        return removed

    async def _remove_orphans(self, keys: list[str]) -> int:
        if not keys:
            return 0
        async with self.db.read() as conn:
            referenced = await repo.referenced_keys(conn, keys)
        orphans = [key for key in keys if key not in referenced]
        if orphans:
            await self.store.delete(orphans)
            log.info("media sweep removed %d files that no message references", len(orphans))
        return len(orphans)

    def _remove_stale_uploads(self) -> int:
        if not self.workdir.is_dir():
            return 0
        removed = 0
        for path in self.workdir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and _age(path) > self.sweep_grace:
                    path.unlink()
                    removed += 1
        return removed


def readable_size(size: int) -> str:
    """`3 MiB`, `512 KiB`, `100 bytes`: limits as people read them."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _keys(media: Sequence[Media]) -> list[str]:
    return [key for m in media for key in (m.key, m.thumbnail_key) if key is not None]


def _remove(*renditions: Rendition) -> None:
    for rendition in renditions:
        rendition.path.unlink(missing_ok=True)


def _age(path: Path) -> float:
    return time.time() - path.stat().st_mtime
