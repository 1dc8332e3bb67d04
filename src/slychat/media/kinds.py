"""What an uploaded file is, told from its leading bytes alone.

The client's file name and Content-Type are never consulted: they are the sender's claim, and
the type decided here is what the file is stored and served as.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import filetype

from slychat.media.store import CONTENT_TYPES


class MediaKind(StrEnum):
    IMAGE = "image"
    PDF = "pdf"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class FileType:
    """A type slychat stores: its kind, the MIME type it is served as, and its key extension."""

    kind: MediaKind
    mime: str
    extension: str


# filetype itself never looks past its first 8192 bytes; giving it fewer could hide an MP4's
# ftyp brands or a WebM's DocType and make a good file look unknown.
SNIFF_BYTES = 8192


def _stored(kind: MediaKind, extension: str) -> FileType:
    return FileType(kind, CONTENT_TYPES[extension], extension)


_JPEG = _stored(MediaKind.IMAGE, "jpg")
_PNG = _stored(MediaKind.IMAGE, "png")
_WEBP = _stored(MediaKind.IMAGE, "webp")
_PDF = _stored(MediaKind.PDF, "pdf")
_MP4 = _stored(MediaKind.VIDEO, "mp4")
_WEBM = _stored(MediaKind.VIDEO, "webm")
_MOV = _stored(MediaKind.VIDEO, "mov")

# filetype's MIME names for what slychat accepts. Some of its names fold into one of ours: an
# animated PNG is still a PNG (only its first frame is kept), and M4V is Apple's MP4.
_ACCEPTED: dict[str, FileType] = {
    "image/jpeg": _JPEG,
    "image/png": _PNG,
    "image/apng": _PNG,
    "image/webp": _WEBP,
    "application/pdf": _PDF,
    "video/mp4": _MP4,
    "video/x-m4v": _MP4,
    "video/webm": _WEBM,
    "video/quicktime": _MOV,
}

_QUICKTIME_MATCHER = filetype.get_type(mime="video/quicktime")


def sniff(head: bytes) -> FileType | None:
    """The type of a file that starts with `head` (its first SNIFF_BYTES bytes, or all of it if
    shorter); None unless it is one slychat accepts."""
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return None
    # All of filetype's matchers run, not only the accepted ones, so that a more specific type
    # (Matroska, HEIC, M4A) wins over a looser match and is refused.
    match = filetype.guess(head)
    if match is None:
        return None
    found = _ACCEPTED.get(match.mime)
    if found is _MP4 and _QUICKTIME_MATCHER.match(head):
        # filetype tries MP4 before QuickTime and calls a file MP4 when "isom" is merely among
        # its compatible brands; the major brand "qt  " says it is a QuickTime movie.
        return _MOV
    return found
