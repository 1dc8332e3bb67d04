"""Uploaded images, decoded and encoded afresh: upright, without metadata, with a thumbnail.

Nothing the sender wrote is passed on byte for byte: only decoded pixels reach the new files,
so camera details, GPS positions and anything smuggled into the original are left behind.
This is blocking work; the caller runs it in a worker thread.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from slychat.domain.errors import Invalid, TooLarge, UnsupportedMedia
from slychat.media.kinds import FileType, MediaKind
from slychat.media.store import CONTENT_TYPES

DAMAGED = "The image is damaged or truncated"
TOO_MANY_PIXELS = "The image dimensions are too large"

# Pillow's name for each stored image extension, and how that format is written back.
_PILLOW_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {"optimize": True},
    "WEBP": {"quality": 85},
}
# What Pillow raises for data it cannot decode: a broken stream, a short read, a bad chunk.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
# Modes whose samples are wider than 8 bits; Pillow's plain conversion would clip them to white.
_WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})

# catch_warnings swaps the process-wide warning filters (Python 3.11 has no per-thread ones);
# the lock stops two worker threads from interleaving their swaps and leaking a filter, and is
# only held while headers and metadata are parsed, never while pixels are decoded.
_warnings_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Rendition:
    """A freshly encoded image file written by make_safe."""

    path: Path
    size: int
    width: int
    height: int
    file_type: FileType


def make_safe(
    source: Path, file_type: FileType, out_dir: Path, *, max_pixels: int, thumbnail_size: int
) -> tuple[Rendition, Rendition]:
    """Re-encode the image at `source` (sniffed as `file_type`) into out_dir, with a thumbnail
    that fits in thumbnail_size pixels square; returns (image, thumbnail)."""
    pillow_format = _pillow_format(file_type)
    output_type = FileType(MediaKind.IMAGE, CONTENT_TYPES[file_type.extension], file_type.extension)
    image = _decode(source, pillow_format, max_pixels)
    created: list[Path] = []
    try:
        full = _write(image, output_type, out_dir, "image-", created)
        thumb = _write(_thumbnail(image, thumbnail_size), output_type, out_dir, "thumb-", created)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return full, thumb


def _pillow_format(file_type: FileType) -> str:
    pillow_format = _PILLOW_FORMATS.get(file_type.extension)
    if file_type.kind is not MediaKind.IMAGE or pillow_format is None:
        raise UnsupportedMedia(f"Not an image type slychat re-encodes: {file_type.mime}")
    return pillow_format


def _decode(source: Path, pillow_format: str, max_pixels: int) -> Image.Image:
    """The first frame of the image, fully decoded, turned upright, and stripped to pixels."""
    with _open(source, pillow_format) as opened:
        _check_dimensions(opened.width, opened.height, max_pixels)
        try:
            # load() reads every byte now, so a truncated file fails here rather than being
            # padded with grey (LOAD_TRUNCATED_IMAGES stays False).
            opened.load()
            with _pillow_warnings():
                opened.getexif()  # parsed once here; exif_transpose reuses it
            ImageOps.exif_transpose(opened, in_place=True)
        except _DECODE_ERRORS as error:
            raise Invalid(DAMAGED) from error
        image = _to_output_mode(opened, pillow_format)
    # Savers read some metadata (ICC profile, comment, transparency) from info by default.
    image.info = {}
    return image


def _open(source: Path, pillow_format: str) -> ImageFile.ImageFile:
    """Read the image's header, allowing only the sniffed format."""
    try:
        with _pillow_warnings():
            return Image.open(source, formats=[pillow_format])
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise TooLarge(TOO_MANY_PIXELS) from error
    except UnidentifiedImageError as error:
        raise UnsupportedMedia(f"The file is not a valid {pillow_format} image") from error
    except _DECODE_ERRORS as error:
        raise Invalid(DAMAGED) from error


@contextmanager
def _pillow_warnings() -> Iterator[None]:
    """Within this block Pillow's decompression bomb warning is raised as an error, and its
    complaints about damaged metadata (which is dropped anyway) are silenced."""
    with _warnings_lock, warnings.catch_warnings():
        # Pillow only warns between its pixel limit and twice it; as a mere warning the image
        # would be decoded anyway.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def _check_dimensions(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise Invalid(DAMAGED)
    if width * height > max_pixels:
        raise TooLarge(f"{TOO_MANY_PIXELS}: {width}x{height} is over {max_pixels} pixels")


def _to_output_mode(image: Image.Image, pillow_format: str) -> Image.Image:
    """A new image in RGB, or RGBA when it has transparency and the format can keep it."""
    if image.mode in _WIDE_MODES:
        # Scale 16-bit samples down to 8 bits before converting, so mid-grey stays mid-grey.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    keep_alpha = pillow_format != "JPEG" and image.has_transparency_data
    return image.convert("RGBA" if keep_alpha else "RGB")


def _thumbnail(image: Image.Image, thumbnail_size: int) -> Image.Image:
    """A copy that fits in thumbnail_size pixels square, keeping the aspect ratio; a smaller
    image is left at its size."""
    thumb = image.copy()
    thumb.thumbnail((thumbnail_size, thumbnail_size), Image.Resampling.LANCZOS)
    return thumb


def _write(
    image: Image.Image,
    file_type: FileType,
    out_dir: Path,
    prefix: str,
    created: list[Path],
) -> Rendition:
    """Encode the image into a new, uniquely named file in out_dir, noting it in `created`."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=f".{file_type.extension}", dir=out_dir)
    path = Path(name)
    created.append(path)
    with os.fdopen(handle, "wb") as out:
        pillow_format = _PILLOW_FORMATS[file_type.extension]
        image.save(out, format=pillow_format, **_SAVE_OPTIONS[pillow_format])
    return Rendition(path, path.stat().st_size, image.width, image.height, file_type)
