"""Both media stores pass the same tests: the local directory, and S3 against moto on loopback."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slychat.media.local import LocalMediaStore
from slychat.media.s3 import S3MediaStore
from slychat.media.store import LocalFile, MediaStore, Redirect, new_key
from tests.s3server import S3Bucket, s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # imported fixtures: listed so they count as used

SERVER_URL = "https://chat.example/"
PREFIX = "chat/"
BAD_KEYS = ["../../etc/passwd", "x.exe", f"{'a' * 32}.exe", f"../{'a' * 32}.jpg"]
HOUR_AGO = time.time() - 3600


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStore]:
    """Each store, empty: a directory that does not exist yet, or a fresh bucket."""
    made: MediaStore
    if request.param == "local":
        made = LocalMediaStore(tmp_path / "media", SERVER_URL)
    else:
        made = _s3_store(request.getfixturevalue("s3_bucket"))
    await made.open()
    try:
        yield made
    finally:
        await made.close()


def _s3_store(bucket: S3Bucket, public_url: str | None = None) -> S3MediaStore:
    return S3MediaStore(
        bucket=bucket.name,
        endpoint_url=bucket.endpoint_url,
        region=bucket.region,
        access_key_id=bucket.access_key_id,
        secret_access_key=bucket.secret_access_key,
        prefix=PREFIX,
        public_url=public_url,
        url_expiry=300,
        server_url=SERVER_URL,
    )


def _source(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"upload-{hashlib.sha256(data).hexdigest()[:12]}"
    path.write_bytes(data)
    return path


async def _fetch(url: str) -> httpx.Response:
    # trust_env=False: never through a proxy, whatever the environment says.
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return await client.get(url)


async def _exists(store: MediaStore, key: str) -> bool:
    found = await store.locate(key)
    if isinstance(found, Redirect):  # S3 makes no request to locate: follow the URL
        return (await _fetch(found.url)).status_code == 200
    return found is not None


async def _everything(store: MediaStore) -> list[str]:
    """Every name in the store, keys or not."""
    if isinstance(store, LocalMediaStore):
        return [path.name for path in store.root.iterdir()] if store.root.exists() else []
    assert isinstance(store, S3MediaStore)
    listed = await store._s3().list_objects_v2(Bucket=store.bucket)
    return [str(found["Key"]) for found in listed.get("Contents", [])]


async def _keys(store: MediaStore, age: float) -> set[str]:
    return {key async for key in store.keys_older_than(age)}


@pytest.mark.parametrize(
    ("extension", "content_type"), [("jpg", "image/jpeg"), ("pdf", "application/pdf")]
)
async def test_a_stored_file_is_found_with_its_bytes_and_type(
    store: MediaStore, tmp_path: Path, extension: str, content_type: str
) -> None:
    data = os.urandom(5000)
    key = new_key(extension)
    await store.put(key, _source(tmp_path, data))

    found = await store.locate(key)
    if isinstance(store, LocalMediaStore):
        assert found == LocalFile(store.root / key)
        assert found.path.read_bytes() == data
        assert stat.S_IMODE(found.path.stat().st_mode) == 0o644
        return
    assert isinstance(found, Redirect)
    assert "X-Amz-Signature=" in found.url
    response = await _fetch(found.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == content_type
    disposition = response.headers.get("content-disposition", "")
    assert disposition.startswith("attachment") == (extension == "pdf")


async def test_deleting_removes_and_a_missing_key_is_no_error(
    store: MediaStore, tmp_path: Path
) -> None:
    gone, kept, never = new_key("png"), new_key("mp4"), new_key("webm")
    await store.put(gone, _source(tmp_path, b"gone"))
    await store.put(kept, _source(tmp_path, b"kept"))

    await store.delete([gone, never])
    await store.delete([gone])
    await store.delete([])

    assert not await _exists(store, gone)
    assert await _exists(store, kept)


async def test_only_keys_older_than_the_age_are_listed(store: MediaStore, tmp_path: Path) -> None:
    old, fresh = new_key("jpg"), new_key("pdf")
    await store.put(old, _source(tmp_path, b"old"))
    await store.put(fresh, _source(tmp_path, b"fresh"))

    if isinstance(store, LocalMediaStore):
        os.utime(store.root / old, (HOUR_AGO, HOUR_AGO))
        assert await _keys(store, 60) == {old}
    else:  # S3's LastModified cannot be set: compare a large age with none
        assert await _keys(store, 3600) == set()
        assert await _keys(store, 0) == {old, fresh}


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_keys_new_key_did_not_make_are_refused(
    store: MediaStore, tmp_path: Path, key: str
) -> None:
    source = _source(tmp_path, b"evil")
    with pytest.raises(ValueError, match="not a media key"):
        await store.put(key, source)
    with pytest.raises(ValueError, match="not a media key"):
        await store.delete([new_key("jpg"), key])
    assert await store.locate(key) is None
    assert source.read_bytes() == b"evil"
    assert not (tmp_path.parent / "etc").exists()
    assert await _everything(store) == []


async def test_a_writable_store_passes_the_check(store: MediaStore) -> None:
    await store.check_writable()
    assert await _everything(store) == []  # the probe is gone


# The local store.


def test_local_urls_point_at_the_servers_media_route(tmp_path: Path) -> None:
    key = new_key("jpg")
    assert LocalMediaStore(tmp_path, SERVER_URL).url(key) == f"https://chat.example/media/{key}"


async def test_a_move_across_filesystems_copies_then_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalMediaStore(tmp_path / "media", SERVER_URL)
    source = _source(tmp_path, b"x" * 3_000_000)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        renames.append((Path(src).name, Path(dst).name))
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)  # the module local.py uses
    key = new_key("mp4")
    await store.put(key, source)

    assert (store.root / key).read_bytes() == b"x" * 3_000_000
    assert stat.S_IMODE((store.root / key).stat().st_mode) == 0o644
    assert not source.exists()
    [_, (temp, target)] = renames
    assert temp.startswith(".put-")
    assert target == key
    assert sorted(p.name for p in store.root.iterdir()) == [key]


async def test_the_listing_removes_stale_temporary_files(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, SERVER_URL)
    stale, young = tmp_path / ".put-abc.tmp", tmp_path / ".put-def.tmp"
    other = tmp_path / "notes.txt"
    (tmp_path / ".incoming").mkdir()
    for path in (stale, young, other):
        path.write_bytes(b"partial")
    os.utime(stale, (HOUR_AGO, HOUR_AGO))
    os.utime(other, (HOUR_AGO, HOUR_AGO))

    assert await _keys(store, 60) == set()
    assert not stale.exists()
    assert young.exists()
    assert other.exists()
    assert (tmp_path / ".incoming").is_dir()


async def test_an_unknown_local_key_is_not_found(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, SERVER_URL)
    assert await store.locate(new_key("jpg")) is None
    assert await _keys(LocalMediaStore(tmp_path / "absent", SERVER_URL), 0) == set()


async def test_a_root_that_cannot_be_made_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OSError, match="Not a directory"):
        await LocalMediaStore(tmp_path / "file" / "media", SERVER_URL).check_writable()


# The S3 store.


def test_s3_urls_are_the_public_base_or_the_servers_media_route(s3_bucket: S3Bucket) -> None:
    key = new_key("webp")
    public = _s3_store(s3_bucket, public_url="https://cdn.example/media/")
    assert public.url(key) == f"https://cdn.example/media/chat/{key}"
    assert _s3_store(s3_bucket).url(key) == f"https://chat.example/media/{key}"


async def test_s3_objects_are_typed_private_and_under_the_prefix(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    store = _s3_store(s3_bucket)
    await store.open()
    try:
        key = new_key("pdf")
        await store.put(key, _source(tmp_path, b"%PDF-1.7"))
        # Objects outside the prefix, or not named like keys, are not the store's.
        for name in ("elsewhere.jpg", f"{new_key('jpg')}", f"{PREFIX}notes.txt"):
            await store._s3().put_object(Bucket=s3_bucket.name, Key=name, Body=b"-")
        assert await _keys(store, 0) == {key}
    finally:
        await store.close()

    with s3_bucket.client() as client:
        head = client.head_object(Bucket=s3_bucket.name, Key=PREFIX + key)
        acl = client.get_object_acl(Bucket=s3_bucket.name, Key=PREFIX + key)
    assert head["ContentType"] == "application/pdf"
    assert head["ContentDisposition"].startswith("attachment")
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]


# aioboto3's managed upload hands each part (at least 5 MiB) to aiohttp as bytes, and aiohttp
# warns about any bytes body over 1 MiB. The part is already in memory by then: nothing to fix.
@pytest.mark.filterwarnings(
    "ignore:Sending a large body directly with raw bytes might lock the event loop:ResourceWarning"
)
async def test_s3_a_large_file_goes_up_in_parts(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024)
    key = new_key("mp4")
    store = _s3_store(s3_bucket)
    await store.open()
    try:
        await store.put(key, _source(tmp_path, data))
        found = await store.locate(key)
    finally:
        await store.close()

    with s3_bucket.client() as client:
        head = client.head_object(Bucket=s3_bucket.name, Key=PREFIX + key)
    assert head["ETag"].strip('"').endswith("-3")  # 8 + 8 + 4 MiB
    assert head["ContentLength"] == len(data)
    assert isinstance(found, Redirect)
    response = await _fetch(found.url)
    assert response.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest()


async def test_s3_store_refuses_use_before_open(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = _s3_store(s3_bucket)
    with pytest.raises(RuntimeError, match="before open"):
        await store.put(new_key("jpg"), _source(tmp_path, b"x"))
    await store.close()  # closing an unopened store is harmless
