"""sniff: a file's type is told from its bytes, and only the types slychat stores pass."""

from __future__ import annotations

import inspect
import io
import random
import zipfile
from collections.abc import Callable

import pytest
from PIL import Image

from slychat.media.kinds import SNIFF_BYTES, FileType, MediaKind, sniff
from slychat.media.store import CONTENT_TYPES
from tests import media_files

ACCEPTED: list[tuple[Callable[[], bytes], MediaKind, str]] = [
    (media_files.jpeg_with_exif, MediaKind.IMAGE, "jpg"),
    (media_files.rotated_jpeg, MediaKind.IMAGE, "jpg"),
    (media_files.png, MediaKind.IMAGE, "png"),
    (media_files.png_with_metadata, MediaKind.IMAGE, "png"),
    (media_files.truncated_png, MediaKind.IMAGE, "png"),
    (media_files.decompression_bomb_png, MediaKind.IMAGE, "png"),
    (media_files.webp, MediaKind.IMAGE, "webp"),
    (media_files.pdf, MediaKind.PDF, "pdf"),
    (media_files.mp4, MediaKind.VIDEO, "mp4"),
    (media_files.webm, MediaKind.VIDEO, "webm"),
    (media_files.quicktime, MediaKind.VIDEO, "mov"),
]


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return out.getvalue()


def _animated_png() -> bytes:
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


@pytest.mark.parametrize(("make", "kind", "extension"), ACCEPTED)
def test_accepted_types_are_recognised(
    make: Callable[[], bytes], kind: MediaKind, extension: str
) -> None:
    found = sniff(make())
    assert found == FileType(kind, CONTENT_TYPES[extension], extension)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(media_files.windows_exe(), id="exe"),
        pytest.param(media_files.gif(), id="gif"),
        pytest.param(media_files.matroska(), id="mkv"),
        pytest.param(_zip(), id="zip"),
        pytest.param(b"", id="empty"),
        pytest.param(b"hello, this is plain text\n" * 20, id="text"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", id="svg"),
        pytest.param(random.Random(1).randbytes(4096), id="random"),
        pytest.param(media_files.iso_bmff(b"heic", [b"mif1", b"heic"]), id="heic"),
        pytest.param(media_files.iso_bmff(b"avif", [b"avif", b"mif1"]), id="avif"),
        pytest.param(media_files.iso_bmff(b"M4A ", [b"M4A ", b"mp42", b"isom"]), id="m4a"),
    ],
)
def test_other_types_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_quicktime_listing_mp4_brands_is_quicktime() -> None:
    # filetype alone calls this MP4: its MP4 matcher runs first and accepts "isom" anywhere.
    data = media_files.iso_bmff(b"qt  ", [b"qt  ", b"isom"])
    found = sniff(data)
    assert found is not None
    assert found.extension == "mov"


@pytest.mark.parametrize(
    "compatible",
    [
        pytest.param([b"M4V ", b"M4A ", b"mp42", b"isom"], id="m4v-with-mp4-brands"),
        pytest.param([b"M4V ", b"M4A ", b"M4VP"], id="m4v-only"),
    ],
)
def test_m4v_is_stored_as_mp4(compatible: list[bytes]) -> None:
    found = sniff(media_files.iso_bmff(b"M4V ", compatible))
    assert found is not None
    assert (found.kind, found.extension) == (MediaKind.VIDEO, "mp4")


def test_animated_png_is_png() -> None:
    found = sniff(_animated_png())
    assert found is not None
    assert found.extension == "png"


def test_only_the_head_matters() -> None:
    data = media_files.mp4() + random.Random(2).randbytes(3 * SNIFF_BYTES)
    assert sniff(data[:SNIFF_BYTES]) == sniff(data) == sniff(media_files.mp4())


def test_head_is_long_enough_for_filetype() -> None:
    assert SNIFF_BYTES >= 261


def test_sniff_sees_bytes_only() -> None:
    # No file name or client Content-Type can reach the decision: there is nowhere to pass one.
    assert list(inspect.signature(sniff).parameters) == ["head"]
    assert sniff(media_files.windows_exe()) is None


def test_every_result_is_a_stored_type() -> None:
    for make, _, _ in ACCEPTED:
        found = sniff(make())
        assert found is not None
        assert CONTENT_TYPES[found.extension] == found.mime
