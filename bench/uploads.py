"""Server memory during one large upload: a 50 MiB video, and a 3 MiB JPEG to re-encode.

The server's RSS is sampled every few milliseconds from before the request until after the
response. Streaming shows as a growth that stays a small constant however large the file;
a server holding the body would grow by at least the file's size.
"""

from __future__ import annotations

import functools
import io
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.common import Report, fresh_database, running
from bench.procstat import Sampler
from tests.e2e.media_support import File, multipart
from tests.media_files import jpeg_with_exif, mp4
from tests.support import Server, new_chat_fields, next_id, token

MiB = 1024 * 1024
VIDEO_BYTES = 50 * MiB  # SLYCHAT_MEDIA_MAX_VIDEO_BYTES' default: the largest video accepted
IMAGE_LIMIT = 3 * MiB  # SLYCHAT_MEDIA_MAX_IMAGE_BYTES' default
IMAGE_SIZE = (4000, 3000)  # 12 megapixels: a phone photo, 36 MB once decoded to RGB
CHUNK = 256 * 1024
SAMPLE_EVERY_S = 0.005
# Samples on either side of the request: the baseline before it, and the tail after it
# (the response may be sent before every buffer is released).
SETTLE_S = 0.2


@dataclass(frozen=True)
class Payload:
    """One file to upload; `chunks()` yields its bytes a piece at a time, never whole."""

    label: str
    route: str
    filename: str
    content_type: str
    size: int
    chunks: Callable[[], Iterator[bytes]]
    warmup: bytes  # a small file of the same kind, sent first on each server


@dataclass(frozen=True)
class Measured:
    baseline_mib: float
    peak_mib: float
    growth_mib: float
    kept_mib: float  # RSS still above the baseline once the response is in
    sampled_peak_mib: float  # the sampler's own peak, without the high-water mark
    seconds: float
    mb_per_s: float
    samples: int  # RSS samples taken during the request (is the sampling dense enough?)


def _video() -> Payload:
    """A valid MP4 header (the server sniffs only the first bytes), padded with zeros."""
    head = mp4()
    padding = bytes(CHUNK)  # one buffer, yielded again and again

    def chunks() -> Iterator[bytes]:
        yield head
        left = VIDEO_BYTES - len(head)
        while left > 0:
            yield padding[: min(CHUNK, left)]
            left -= CHUNK

    label = "50 MiB MP4 video"
    return Payload(label, "send-video", "clip.mp4", "video/mp4", VIDEO_BYTES, chunks, head)


@functools.cache
def _noisy_jpeg() -> bytes:
    """A 4000x3000 JPEG of noise at the highest quality that stays under the image limit:
    noise defeats compression, so the file is both large in pixels and close to 3 MiB."""
    image = Image.merge("RGB", [Image.effect_noise(IMAGE_SIZE, sigma) for sigma in (40, 50, 60)])
    best, low, high = b"", 1, 95
    while low <= high:  # JPEG size grows with quality: bisect for the largest that fits
        quality = (low + high) // 2
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() < IMAGE_LIMIT:
            best, low = out.getvalue(), quality + 1
        else:
            high = quality - 1
    return best


def _jpeg() -> Payload:
    data = _noisy_jpeg()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    label = f"{len(data) / MiB:.2f} MiB JPEG, {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
    return Payload(
        label, "send-image", "photo.jpg", "image/jpeg", len(data), chunks, jpeg_with_exif()
    )


def _small(payload: Payload) -> Payload:
    return replace(payload, size=len(payload.warmup), chunks=lambda: iter([payload.warmup]))


def _body(fields: dict[str, Any], payload: Payload) -> tuple[Iterator[bytes], int, str]:
    """The multipart body as a stream of chunks, its length and its Content-Type. The tests'
    hand-built body is made around a placeholder file and split there, so the framing is
    theirs and only the file's bytes are streamed in between."""
    marker = secrets.token_hex(16).encode()
    body, content_type = multipart(fields, [File(marker, payload.filename, payload.content_type)])
    head, tail = body.split(marker)

    def stream() -> Iterator[bytes]:
        yield head
        yield from payload.chunks()
        yield tail

    return stream(), len(head) + payload.size + len(tail), content_type


def _status_bytes(pid: int, name: str) -> int | None:
    """A memory figure (VmRSS, VmHWM) of `pid` from /proc/<pid>/status, None when gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return None


def _reset_peak(pid: int) -> None:
    """Reset the kernel's high-water mark of `pid`'s RSS (VmHWM) to its current RSS: read
    after the upload, it catches a spike shorter than the sampling interval."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _post(http: httpx.Client, server: Server, payload: Payload) -> httpx.Response:
    """One upload opening a new chat (a fresh product id), customer to vendor."""
    customer, vendor = next_id(), next_id()
    fields = {"productId": f"up{customer}", "recipientId": vendor, **new_chat_fields()}
    stream, length, content_type = _body(fields, payload)
    headers = {
        "Authorization": f"Bearer {token('customer', customer)}",
        "Content-Type": content_type,
        # Given, httpx sends the stream as is instead of chunked, as a browser would.
        "Content-Length": str(length),
    }
    return http.post(f"{server.url}/api/v1/chat/{payload.route}", content=stream, headers=headers)


def _check(response: httpx.Response, payload: Payload) -> None:
    if response.status_code != 201:
        raise RuntimeError(f"{payload.route}: {response.status_code} {response.text[:300]}")


def _measure(http: httpx.Client, server: Server, payload: Payload) -> Measured:
    """One upload, with the server's RSS sampled around it."""
    assert server.proc is not None
    pid = server.proc.pid
    with Sampler(lambda: _status_bytes(pid, "VmRSS"), interval=SAMPLE_EVERY_S) as rss:
        time.sleep(SETTLE_S)
        _reset_peak(pid)
        start = time.monotonic()
        response = _post(http, server, payload)
        end = time.monotonic()
        time.sleep(SETTLE_S)
        high_water = _status_bytes(pid, "VmHWM") or 0
    _check(response, payload)
    baseline = rss.at(start)
    sampled_peak = max(value for at, value in rss.samples if at >= start)
    peak = max(sampled_peak, high_water)
    seconds = end - start
    return Measured(
        baseline_mib=baseline / MiB,
        peak_mib=peak / MiB,
        growth_mib=(peak - baseline) / MiB,
        kept_mib=(rss.samples[-1][1] - baseline) / MiB,
        sampled_peak_mib=sampled_peak / MiB,
        seconds=seconds,
        mb_per_s=payload.size / 1e6 / seconds,
        samples=sum(1 for at, _ in rss.samples if start <= at <= end),
    )


def _one_run(http: httpx.Client, payload: Payload) -> Measured:
    """An upload on a freshly started server (fresh SQLite database and media directory),
    after one small upload of the same kind: the figure is the upload's own cost, neither
    the server's first-request set-up nor a heap that earlier uploads grew and left behind
    (which a reused server would start from, hiding the growth)."""
    with fresh_database("sqlite") as url, running(url) as server:
        _check(_post(http, server, _small(payload)), payload)
        return _measure(http, server, payload)


def _runs(payload: Payload, runs: int) -> list[Measured]:
    done = []
    with httpx.Client(timeout=120) as http:
        for n in range(runs):
            m = _one_run(http, payload)
            done.append(m)
            print(
                f"  {payload.label} [{n + 1}/{runs}]: baseline {m.baseline_mib:.1f} MiB, "
                f"peak {m.peak_mib:.1f}, growth {m.growth_mib:.1f}, kept {m.kept_mib:.1f}; "
                f"{m.seconds * 1000:.0f} ms, {m.samples} samples",
                flush=True,
            )
    return done


def _median(done: list[Measured], name: str) -> float:
    return float(statistics.median(getattr(m, name) for m in done))


def _row(payload: Payload, done: list[Measured]) -> list[str]:
    mib = ("baseline_mib", "peak_mib", "growth_mib", "kept_mib")
    return [
        payload.label,
        *(f"{_median(done, name):.1f}" for name in mib),
        f"{_median(done, 'seconds') * 1000:.0f}",
        f"{_median(done, 'mb_per_s'):.0f}",
    ]


HEADER = ["upload", "baseline, MiB", "peak, MiB", "growth, MiB", "kept, MiB", "wall time, ms"]


def _method(runs: int) -> str:
    return (
        "## Upload memory\n\nThe server's RSS (`VmRSS`) during one multipart upload, sampled "
        f"every {SAMPLE_EVERY_S * 1000:.0f} ms from before the request until after its 201. "
        "Peak: the highest sample, or the kernel's high-water mark (`VmHWM`, reset just before "
        "the request) if higher; growth: peak minus the RSS just before the request; kept: "
        f"what is still above it {SETTLE_S * 1000:.0f} ms after the response. Each run is a "
        "new chat on a freshly started server (SQLite, fresh media directory), after one small "
        f"upload of the same kind; the client streams the body in {CHUNK // 1024} KiB chunks "
        f"with a Content-Length. Medians of {runs} runs.\n"
    )


def run(report: Report, runs: int) -> None:
    report.add(_method(runs))
    video, image = _video(), _jpeg()
    results = {payload: _runs(payload, runs) for payload in (video, image)}
    report.table([*HEADER, "MB/s"], [_row(payload, done) for payload, done in results.items()])
    report.data["uploads"] = {p.label: [asdict(m) for m in done] for p, done in results.items()}
    report.add(_video_note(_median(results[video], "growth_mib")))
    report.add(_image_note(_median(results[image], "growth_mib")) + "\n")


def _video_note(growth: float) -> str:
    """What the video's growth says about streaming: claimed only when the figure shows it."""
    share = growth / (VIDEO_BYTES / MiB)
    if share < 0.1:
        return (
            f"The 50 MiB video grew the server by {growth:.1f} MiB ({share:.0%} of the file): "
            "the body is streamed to disk, so the growth is a small constant, not the file."
        )
    return (
        f"The 50 MiB video grew the server by {growth:.1f} MiB ({share:.0%} of the file): "
        "more than streaming alone explains."
    )


def _image_note(growth: float) -> str:
    bitmap = IMAGE_SIZE[0] * IMAGE_SIZE[1] * 3 / MiB
    return (
        f"The JPEG's growth is {growth / bitmap:.1f}x its decoded bitmap ({bitmap:.0f} MiB as "
        "RGB): the cost of Pillow's decode and re-encode, not of receiving the file."
    )
