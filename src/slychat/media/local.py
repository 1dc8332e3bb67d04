"""Media files in a directory on this machine, served by the server's own media route.

A file appears under its key only when complete: it is renamed into place, so a reader
sees either nothing or the whole file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from slychat.media.store import LocalFile, is_key

# Temporary names of puts in progress; they never pass `is_key`, so nothing serves them.
_TEMP_PREFIX = ".put-"
_TEMP_SUFFIX = ".tmp"
_PROBE_PREFIX = ".probe-"
_FILE_MODE = 0o644


class LocalMediaStore:
    """A `MediaStore` keeping each file as `root/<key>`."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = root
        self.public_url = public_url

    async def open(self) -> None:
        """Nothing to connect to; the directory is created on first write."""

    async def close(self) -> None:
        """Nothing to release."""

    async def put(self, key: str, source: Path) -> None:
        """Move `source` in under `key`: a rename on the same filesystem, else a copy."""
        target = self._path(key)
        await asyncio.to_thread(self._move_in, source, target)

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these keys' files; a missing one is no error."""
        paths = [self._path(key) for key in keys]  # all checked before any is removed
        await asyncio.to_thread(_unlink_all, paths)

    async def keys_older_than(self, age: float) -> AsyncIterator[str]:
        """Keys whose file was last written more than `age` seconds ago; also removes
        temporary files that interrupted puts left behind, once they are as old."""
        for key in await asyncio.to_thread(self._scan, time.time() - age):
            yield key

    def url(self, key: str) -> str:
        return f"{self.public_url.rstrip('/')}/media/{key}"

    async def locate(self, key: str) -> LocalFile | None:
        """The file for `key`, if the key is well formed and the file exists."""
        if not is_key(key):
            return None
        path = self.root / key
        return LocalFile(path) if await asyncio.to_thread(path.is_file) else None

    async def check_writable(self) -> None:
        """Create and remove a probe file in the root; raises OSError if that fails."""
        await asyncio.to_thread(self._probe)

    def _path(self, key: str) -> Path:
        # The only way a key becomes a path: a checked key has no separators or dots to climb.
        if not is_key(key):
            raise ValueError(f"not a media key: {key!r}")
        return self.root / key

    def _move_in(self, source: Path, target: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(source, _FILE_MODE)
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._copy_in(source, target)
            source.unlink(missing_ok=True)

    def _copy_in(self, source: Path, target: Path) -> None:
        """Copy to a temporary name in the root, then rename: the rename is atomic only
        within one filesystem, so the copy must land beside the target first."""
        fd, name = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                os.fchmod(out.fileno(), _FILE_MODE)
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                # Without this a crash could leave an empty file under the final name.
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _scan(self, cutoff: float) -> list[str]:
        old: list[str] = []
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return old
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):  # removed while we looked
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                if is_key(entry.name):
                    old.append(entry.name)
                elif _is_leftover(entry.name):
                    os.unlink(entry.path)
        return old

    def _probe(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=_PROBE_PREFIX)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(name)


def _is_leftover(name: str) -> bool:
    """A temporary file of a put or a probe that was interrupted."""
    return (name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)) or name.startswith(
        _PROBE_PREFIX
    )


def _unlink_all(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
