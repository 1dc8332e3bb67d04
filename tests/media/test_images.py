"""make_safe: uploaded images come out re-encoded, upright, without metadata, with a thumbnail."""

from __future__ import annotations

import io
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageFile

from slychat.domain.errors import Invalid, TooLarge, UnsupportedMedia
from slychat.media.images import Rendition, make_safe
from slychat.media.kinds import FileType, MediaKind, sniff
from tests import media_files

MAX_PIXELS = 1_000_000
THUMB = 16
JPEG = FileType(MediaKind.IMAGE, "image/jpeg", "jpg")
PNG = FileType(MediaKind.IMAGE, "image/png", "png")
WEBP = FileType(MediaKind.IMAGE, "image/webp", "webp")
PDF = FileType(MediaKind.PDF, "application/pdf", "pdf")
MP4 = FileType(MediaKind.VIDEO, "video/mp4", "mp4")
SECRETS = [
    b"Exif",
    media_files.CAMERA_MAKE.encode(),
    media_files.CAMERA_MODEL.encode(),
    media_files.SECRET_COMMENT,
    media_files.FAKE_ICC,
    b"slychat-xmp-marker",
]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    made = tmp_path / "out"
    made.mkdir()
    return made


def _safe(
    out_dir: Path,
    data: bytes,
    file_type: FileType | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
    thumbnail_size: int = THUMB,
) -> tuple[Rendition, Rendition]:
    """Run make_safe on `data` (typed as sniffed unless told), uploaded beside out_dir."""
    source = out_dir.parent / "upload.bin"
    source.write_bytes(data)
    if file_type is None:
        file_type = sniff(data)
        assert file_type is not None
    return make_safe(
        source, file_type, out_dir, max_pixels=max_pixels, thumbnail_size=thumbnail_size
    )


def _open(rendition: Rendition) -> Image.Image:
    """The rendition's image, decoded, checked against what make_safe said about it."""
    data = rendition.path.read_bytes()
    assert len(data) == rendition.size
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.size == (rendition.width, rendition.height)
    assert (
        image.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[rendition.file_type.extension]
    )
    return image


def _encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def _is_red(pixel: Any) -> bool:
    red, green, blue = pixel[:3]
    return bool(red > 200 and green < 60 and blue < 60)


def _is_blue(pixel: Any) -> bool:
    red, green, blue = pixel[:3]
    return bool(blue > 200 and red < 60 and green < 60)


def test_jpeg_metadata_is_gone(out_dir: Path) -> None:
    original = media_files.jpeg_with_exif()
    for rendition in _safe(out_dir, original):
        data = rendition.path.read_bytes()
        image = _open(rendition)
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
        for secret in SECRETS:
            assert secret not in data
        # No APP1 (EXIF, XMP), APP2 (ICC) or COM segment at all.
        for marker in (b"\xff\xe1", b"\xff\xe2", b"\xff\xfe"):
            assert marker not in data
        assert data != original


def test_png_metadata_is_gone(out_dir: Path) -> None:
    for rendition in _safe(out_dir, media_files.png_with_metadata()):
        data = rendition.path.read_bytes()
        image = _open(rendition)
        assert image.info == {}
        assert dict(image.getexif()) == {}
        for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
            assert chunk not in data
        for secret in SECRETS:
            assert secret not in data


def test_webp_metadata_is_gone(out_dir: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = media_files.CAMERA_MAKE
    original = _encode(
        Image.new("RGB", (20, 10), media_files.RED),
        "WEBP",
        exif=exif,
        icc_profile=media_files.FAKE_ICC,
        xmp=media_files.XMP,
    )
    for rendition in _safe(out_dir, original):
        data = rendition.path.read_bytes()
        assert dict(_open(rendition).getexif()) == {}
        for chunk in (b"EXIF", b"ICCP", b"XMP "):
            assert chunk not in data
        for secret in SECRETS:
            assert secret not in data


def test_orientation_is_applied(out_dir: Path) -> None:
    full, thumb = _safe(out_dir, media_files.rotated_jpeg())
    image = _open(full)
    assert image.size == (40, 60)
    # Turned a quarter clockwise, the red left half is now on top.
    assert _is_red(image.getpixel((20, 10)))
    assert _is_blue(image.getpixel((20, 50)))
    assert ExifTags.Base.Orientation not in image.getexif()
    small = _open(thumb)
    assert small.height == THUMB
    assert small.width < small.height
    assert _is_red(small.getpixel((small.width // 2, 2)))


def test_png_alpha_is_kept(out_dir: Path) -> None:
    for rendition in _safe(out_dir, media_files.png()):
        image = _open(rendition)
        assert image.mode == "RGBA"
        assert image.getpixel((1, 1)) == (*media_files.RED, 255)
        assert image.getchannel("A").getpixel((image.width - 1, 1)) == 0


def test_webp_is_re_encoded(out_dir: Path) -> None:
    full, thumb = _safe(out_dir, media_files.webp())
    assert full.file_type == thumb.file_type == WEBP
    assert full.path.suffix == thumb.path.suffix == ".webp"
    image = _open(full)
    assert image.size == (40, 30)
    assert _is_red(image.getpixel((5, 15)))
    assert _is_blue(image.getpixel((35, 15)))


def test_renditions_describe_their_files(out_dir: Path) -> None:
    full, thumb = _safe(out_dir, media_files.jpeg_with_exif())
    assert full.file_type == thumb.file_type == JPEG
    assert full.path != thumb.path
    assert full.path.parent == thumb.path.parent == out_dir
    assert full.path.suffix == ".jpg"
    assert (full.width, full.height) == (64, 48)
    assert full.size == full.path.stat().st_size


def test_source_is_left_alone(out_dir: Path) -> None:
    original = media_files.jpeg_with_exif()
    _safe(out_dir, original)
    assert (out_dir.parent / "upload.bin").read_bytes() == original


@pytest.mark.parametrize(
    ("size", "expected"),
    [((300, 120), (64, 26)), ((120, 300), (26, 64)), ((64, 64), (64, 64)), ((20, 10), (20, 10))],
)
def test_thumbnail_fits_and_never_upscales(
    out_dir: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    data = _encode(Image.new("RGB", size, media_files.BLUE), "PNG")
    full, thumb = _safe(out_dir, data, thumbnail_size=64)
    assert (full.width, full.height) == size
    assert (thumb.width, thumb.height) == expected
    assert _open(thumb).size == expected


def test_animated_images_keep_the_first_frame(out_dir: Path) -> None:
    frames = [Image.new("RGBA", (8, 8), color) for color in ("red", "blue", "green")]
    for image_format in ("PNG", "WEBP"):
        data = _encode(frames[0], image_format, save_all=True, append_images=frames[1:])
        for rendition in _safe(out_dir, data):
            image = _open(rendition)
            assert getattr(image, "n_frames", 1) == 1
            assert _is_red(image.getpixel((4, 4)))


@pytest.mark.parametrize(
    ("image", "image_format", "mode", "pixel"),
    [
        pytest.param(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG", "RGB", None, id="cmyk"),
        pytest.param(Image.new("L", (4, 4), 77), "JPEG", "RGB", None, id="grey-jpeg"),
        pytest.param(
            Image.new("LA", (4, 4), (100, 50)), "PNG", "RGBA", (100, 100, 100, 50), id="la"
        ),
        pytest.param(Image.new("1", (4, 4), 1), "PNG", "RGB", (255, 255, 255), id="bilevel"),
        pytest.param(Image.new("I;16", (4, 4), 32768), "PNG", "RGB", (128, 128, 128), id="16-bit"),
    ],
)
def test_modes_are_converted(
    out_dir: Path,
    image: Image.Image,
    image_format: str,
    mode: str,
    pixel: tuple[int, ...] | None,
) -> None:
    for rendition in _safe(out_dir, _encode(image, image_format)):
        converted = _open(rendition)
        assert converted.mode == mode
        if pixel is not None:
            assert converted.getpixel((0, 0)) == pixel


def test_palette_transparency_becomes_alpha(out_dir: Path) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, *media_files.RED])
    full, _ = _safe(out_dir, _encode(image, "PNG", transparency=1))
    assert _open(full).getpixel((0, 0)) == (*media_files.RED, 0)


def test_truncated_image_is_invalid(out_dir: Path) -> None:
    with pytest.raises(Invalid, match="damaged or truncated"):
        _safe(out_dir, media_files.truncated_png())
    assert list(out_dir.iterdir()) == []
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_decompression_bomb_is_refused_before_decoding(out_dir: Path) -> None:
    data = media_files.decompression_bomb_png()
    started = time.perf_counter()
    with pytest.raises(TooLarge, match="dimensions are too large"):
        _safe(out_dir, data, max_pixels=10**12)
    assert time.perf_counter() - started < 1
    assert list(out_dir.iterdir()) == []


def test_over_max_pixels_is_too_large(out_dir: Path) -> None:
    with pytest.raises(TooLarge, match="dimensions are too large"):
        _safe(out_dir, media_files.png(), max_pixels=32 * 24 - 1)
    assert list(out_dir.iterdir()) == []
    full, _ = _safe(out_dir, media_files.png(), max_pixels=32 * 24)
    assert (full.width, full.height) == (32, 24)


@pytest.mark.parametrize("pillow_limit", [500, 300], ids=["pillow-warning", "pillow-error"])
def test_pillow_bomb_checks_become_too_large(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch, pillow_limit: int
) -> None:
    # png() has 768 pixels: over 500 Pillow only warns, over twice 300 it raises.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    filters_before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TooLarge, match="dimensions are too large"):
            _safe(out_dir, media_files.png(), max_pixels=MAX_PIXELS)
    assert caught == []
    assert warnings.filters == filters_before
    assert list(out_dir.iterdir()) == []


def test_pillow_limit_is_not_changed(out_dir: Path) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(TooLarge):
        _safe(out_dir, media_files.png(), max_pixels=10)
    _safe(out_dir, media_files.png())
    assert limit == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize(
    ("data", "file_type"),
    [
        pytest.param(media_files.pdf(), PNG, id="pdf-as-png"),
        pytest.param(media_files.pdf(), JPEG, id="pdf-as-jpeg"),
        pytest.param(media_files.gif(), JPEG, id="gif-as-jpeg"),
        pytest.param(media_files.png(), JPEG, id="png-as-jpeg"),
        pytest.param(media_files.jpeg_with_exif(), WEBP, id="jpeg-as-webp"),
        pytest.param(media_files.pdf(), PDF, id="pdf"),
        pytest.param(media_files.mp4(), MP4, id="mp4"),
    ],
)
def test_not_the_expected_image_is_unsupported(
    out_dir: Path, data: bytes, file_type: FileType
) -> None:
    with pytest.raises(UnsupportedMedia):
        _safe(out_dir, data, file_type)
    assert list(out_dir.iterdir()) == []


def test_failed_write_leaves_no_files(out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = Image.Image.save
    calls = 0

    def save_then_fail(self: Image.Image, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        _safe(out_dir, media_files.jpeg_with_exif())
    assert calls == 2
    assert list(out_dir.iterdir()) == []


def test_concurrent_calls_share_a_directory(out_dir: Path) -> None:
    sources = []
    for index, make in enumerate(
        [media_files.jpeg_with_exif, media_files.png, media_files.webp] * 4
    ):
        source = out_dir.parent / f"upload-{index}"
        source.write_bytes(make())
        sources.append(source)

    def run(source: Path) -> tuple[Rendition, Rendition]:
        file_type = sniff(source.read_bytes())
        assert file_type is not None
        return make_safe(source, file_type, out_dir, max_pixels=MAX_PIXELS, thumbnail_size=THUMB)

    filters_before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, sources))
    paths = {rendition.path for pair in results for rendition in pair}
    assert len(paths) == 2 * len(sources)
    assert paths == set(out_dir.iterdir())
    assert warnings.filters == filters_before
