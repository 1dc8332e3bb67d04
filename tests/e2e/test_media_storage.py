"""Where media files live: the orphan sweep on local disk, and the S3 store end to end
against an S3-compatible server on loopback (moto)."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests import media_files
from tests.e2e.media_support import File, fetch, key_of, upload
from tests.s3server import S3Bucket
from tests.support import Client, Server, next_id

HOUR_AGO = time.time() - 3600


def _age(path: Path) -> None:
    os.utime(path, (HOUR_AGO, HOUR_AGO))


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_sweep_removes_files_no_message_references(
    spawn_server: Callable[..., Server], log_dir: Path
) -> None:
    srv = spawn_server(SLYCHAT_MEDIA_SWEEP_GRACE="60")
    response = await upload(
        srv,
        "send-image",
        [File(media_files.png(), "a.png", "image/png")],
        user_id=next_id(),
        recipient_id=next_id(),
        product_id=f"p-{next_id()}",
    )
    assert response.status_code == 201, response.text
    item = response.json()["data"]["messages"][0]["messageMedias"][0]
    root = srv.media_dir
    assert root is not None
    referenced = [root / key_of(item["url"]), root / key_of(item["thumbnailUrl"])]
    # What a crash leaves: a file stored before its transaction committed, and a
    # half-received upload; plus a file too young to judge (its upload may be running).
    orphan = root / f"{secrets.token_urlsafe(24)}.jpg"
    orphan.write_bytes(media_files.jpeg_with_exif())
    half_received = root / ".incoming" / ".upload-crashed"
    half_received.write_bytes(b"partial")
    young = root / f"{secrets.token_urlsafe(24)}.png"
    young.write_bytes(media_files.png())
    for path in [*referenced, orphan, half_received]:
        _age(path)

    srv.stop()
    srv.start(log_dir)  # the sweep runs at start

    await _until(lambda: not orphan.exists() and not half_received.exists())
    assert all(path.exists() for path in referenced)
    assert young.exists()
    assert (await fetch(item["url"])).status_code == 200


def _s3_env(bucket: S3Bucket, **extra: str) -> dict[str, str]:
    return {
        "SLYCHAT_MEDIA_STORE": "s3",
        "SLYCHAT_S3_BUCKET": bucket.name,
        "SLYCHAT_S3_ENDPOINT_URL": bucket.endpoint_url,
        "SLYCHAT_S3_REGION": bucket.region,
        "SLYCHAT_S3_ACCESS_KEY_ID": bucket.access_key_id,
        "SLYCHAT_S3_SECRET_ACCESS_KEY": bucket.secret_access_key,
        "AWS_EC2_METADATA_DISABLED": "true",
    } | extra


async def test_media_on_s3_from_upload_to_deletion(
    spawn_server: Callable[..., Server], s3_bucket: S3Bucket
) -> None:
    srv = spawn_server(**_s3_env(s3_bucket, SLYCHAT_S3_PREFIX="chat/"))
    customer = Client(srv.url, "customer", next_id())
    await (await customer.connect()).ready()
    try:
        response = await upload(
            srv,
            "send-image",
            [File(media_files.jpeg_with_exif(), "p.jpg", "image/jpeg")],
            user_id=customer.id,
            recipient_id=next_id(),
            product_id=f"p-{next_id()}",
        )
        assert response.status_code == 201, response.text
        message = response.json()["data"]["messages"][0]
        [item] = message["messageMedias"]
        keys = {f"chat/{key_of(item['url'])}", f"chat/{key_of(item['thumbnailUrl'])}"}
        assert keys <= s3_bucket.object_keys()

        # Not public: the server's URL redirects to a pre-signed one on the bucket.
        served = await fetch(item["url"])
        assert served.status_code == 200
        assert str(served.url).startswith(s3_bucket.endpoint_url)
        assert "Signature" in str(served.url) or "X-Amz-Signature" in str(served.url)
        assert served.headers["content-type"] == "image/jpeg"
        assert not Image.open(io.BytesIO(served.content)).getexif()
        assert b"Exif" not in served.content

        ack = await customer.call("deleteMessage", {"messageId": message["id"]})
        assert ack["error"] is False
        assert not keys & s3_bucket.object_keys()
    finally:
        await customer.close()


async def test_public_s3_urls_point_at_the_bucket(
    spawn_server: Callable[..., Server], s3_bucket: S3Bucket
) -> None:
    public = f"{s3_bucket.endpoint_url}/{s3_bucket.name}"
    srv = spawn_server(**_s3_env(s3_bucket, SLYCHAT_S3_PUBLIC_URL=public))
    response = await upload(
        srv,
        "send-pdf",
        [File(media_files.pdf(), "i.pdf", "application/pdf")],
        user_id=next_id(),
        recipient_id=next_id(),
        product_id=f"p-{next_id()}",
    )
    assert response.status_code == 201, response.text
    [item] = response.json()["data"]["messages"][0]["messageMedias"]
    assert item["url"] == f"{public}/{key_of(item['url'])}"
    assert key_of(item["url"]) in s3_bucket.object_keys()


async def test_the_sweep_removes_orphans_from_s3(
    spawn_server: Callable[..., Server], s3_bucket: S3Bucket, log_dir: Path
) -> None:
    srv = spawn_server(**_s3_env(s3_bucket, SLYCHAT_MEDIA_SWEEP_GRACE="0"))
    response = await upload(
        srv,
        "send-video",
        [File(media_files.mp4(), "v.mp4", "video/mp4")],
        user_id=next_id(),
        recipient_id=next_id(),
        product_id=f"p-{next_id()}",
    )
    assert response.status_code == 201, response.text
    kept = key_of(response.json()["data"]["messages"][0]["messageMedias"][0]["url"])
    orphan = f"{secrets.token_urlsafe(24)}.mp4"
    with s3_bucket.client() as client:
        client.put_object(Bucket=s3_bucket.name, Key=orphan, Body=media_files.mp4())

    srv.stop()
    srv.start(log_dir)

    await _until(lambda: orphan not in s3_bucket.object_keys())
    assert kept in s3_bucket.object_keys()
