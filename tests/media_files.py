"""Small media files made by code, for the media tests and the end-to-end upload tests.

Every function returns the same bytes on every call, so failures reproduce.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import time
import zlib

from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

CAMERA_MAKE = "SlyCamIndustries"
CAMERA_MODEL = "Snoop-9000"
SECRET_COMMENT = b"slychat-secret-comment"
FAKE_ICC = b"slychat-fake-icc-profile"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><slychat-xmp-marker/></x:xmpmeta>'
RED = (255, 0, 0)
BLUE = (0, 0, 255)
BOMB_SIDE = 30_000


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def _halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def jpeg_with_exif() -> bytes:
    """A 64x48 JPEG carrying a camera make and model, a GPS position, a comment, XMP and ICC."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.Base.Model] = CAMERA_MODEL
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    return _encode(
        _halves((64, 48), RED, BLUE),
        "JPEG",
        quality=95,
        exif=exif,
        comment=SECRET_COMMENT,
        icc_profile=FAKE_ICC,
        xmp=XMP,
    )


def rotated_jpeg() -> bytes:
    """A 60x40 JPEG, red left half and blue right half, whose EXIF says to turn it 90 degrees
    clockwise (Orientation 6): shown upright it is 40x60 with red on top."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return _encode(_halves((60, 40), RED, BLUE), "JPEG", quality=95, exif=exif)


def png() -> bytes:
    """A 32x24 RGBA PNG: opaque red on the left, fully transparent blue on the right."""
    image = Image.new("RGBA", (32, 24), (*BLUE, 0))
    image.paste((*RED, 255), (0, 0, 16, 24))
    return _encode(image, "PNG")


def png_with_metadata() -> bytes:
    """A 32x24 RGB PNG with text chunks, EXIF naming the camera, and an ICC profile."""
    text = PngInfo()
    text.add_text("Comment", SECRET_COMMENT.decode())
    text.add_itxt("Author", CAMERA_MAKE)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    return _encode(
        _halves((32, 24), RED, BLUE), "PNG", pnginfo=text, exif=exif, icc_profile=FAKE_ICC
    )


def webp() -> bytes:
    """A 40x30 lossless WebP, red left half and blue right half."""
    return _encode(_halves((40, 30), RED, BLUE), "WEBP", lossless=True)


def pdf() -> bytes:
    """A one-page PDF holding an 8x8 white image, with fixed dates."""
    when = time.gmtime(1_704_067_200)
    image = Image.new("RGB", (8, 8), "white")
    return _encode(image, "PDF", creationDate=when, modDate=when)


def gif() -> bytes:
    """A 16x16 GIF, a type slychat does not accept."""
    return _encode(Image.new("RGB", (16, 16), RED), "GIF")


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ftyp(major: bytes, compatible: list[bytes]) -> bytes:
    return _box(b"ftyp", major + struct.pack(">I", 0x200) + b"".join(compatible))


def _movie_boxes() -> bytes:
    """A moov holding only a movie header (1000 units a second, no tracks) and an empty mdat."""
    identity_matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = (
        struct.pack(">I4I", 0, 0, 0, 1000, 0)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + identity_matrix
        + bytes(24)
        + struct.pack(">I", 1)
    )
    return _box(b"moov", _box(b"mvhd", mvhd)) + _box(b"mdat")


def iso_bmff(major: bytes, compatible: list[bytes]) -> bytes:
    """An ISO base media file with this ftyp brand and compatible brands."""
    return _ftyp(major, compatible) + _movie_boxes()


def mp4() -> bytes:
    """A minimal MP4: ftyp "isom" then a movie header."""
    return iso_bmff(b"isom", [b"isom", b"iso2", b"avc1", b"mp41"])


def quicktime() -> bytes:
    """A minimal QuickTime movie: ftyp "qt  " then a movie header."""
    return iso_bmff(b"qt  ", [b"qt  "])


def _ebml_size(size: int) -> bytes:
    # An 8-byte EBML variable-size integer: marker byte 0x01, then 7 bytes of size.
    return b"\x01" + size.to_bytes(7, "big")


def _ebml_element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + bytes([0x80 | len(payload)]) + payload


def ebml(doctype: bytes) -> bytes:
    """A Matroska-family file: an EBML header with this DocType, then an empty segment."""
    header = b"".join(
        [
            _ebml_element(b"\x42\x86", b"\x01"),  # EBMLVersion
            _ebml_element(b"\x42\xf7", b"\x01"),  # EBMLReadVersion
            _ebml_element(b"\x42\xf2", b"\x04"),  # EBMLMaxIDLength
            _ebml_element(b"\x42\xf3", b"\x08"),  # EBMLMaxSizeLength
            _ebml_element(b"\x42\x82", doctype),  # DocType
            _ebml_element(b"\x42\x87", b"\x04"),  # DocTypeVersion
            _ebml_element(b"\x42\x85", b"\x02"),  # DocTypeReadVersion
        ]
    )
    segment = b"\x18\x53\x80\x67" + _ebml_size(0)
    return b"\x1a\x45\xdf\xa3" + _ebml_size(len(header)) + header + segment


def webm() -> bytes:
    """A minimal WebM: EBML header with DocType "webm"."""
    return ebml(b"webm")


def matroska() -> bytes:
    """A minimal Matroska (.mkv) file, which slychat does not accept."""
    return ebml(b"matroska")


def windows_exe() -> bytes:
    """The start of a Windows PE executable: a DOS "MZ" header pointing at a "PE" header."""
    dos_header = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40)
    coff_header = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x102)
    return dos_header + b"PE\x00\x00" + coff_header + bytes(0xE0)


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """Each chunk of a PNG as (type, offset of its data, length of its data)."""
    chunks = []
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append((data[offset + 4 : offset + 8], offset + 8, length))
        offset += 12 + length
    return chunks


def truncated_png() -> bytes:
    """A 64x64 PNG of noise cut off halfway through its image data."""
    noise = random.Random(20240101).randbytes(64 * 64 * 3)
    data = _encode(Image.frombytes("RGB", (64, 64), noise), "PNG")
    _, start, length = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
    return data[: start + length // 2]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


@functools.cache
def decompression_bomb_png() -> bytes:
    """A valid ~110 KB PNG that decodes to 30000x30000 pixels (900 million): black, one bit a
    pixel. The image data is compressed a block of rows at a time, so building it never holds
    the decoded image in memory."""
    row = b"\x00" * (1 + BOMB_SIDE // 8)  # filter type 0, then the row's bits
    rows_per_block = 1000
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * rows_per_block) for _ in range(BOMB_SIDE // rows_per_block)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )
