"""Media files in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...).

Objects are private. Clients get either a URL on a public base (when the operator made
the bucket readable there) or this server's media URL, which redirects to a short-lived
pre-signed URL. The bucket itself is the operator's: this store never creates it.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aioboto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from slychat.media.store import Redirect, content_type_of, is_key

# S3 refuses a DeleteObjects request naming more keys than this.
_DELETE_BATCH = 1000
_MiB = 1024 * 1024
# Multipart above 8 MiB in 8 MiB parts; the queue of parts read ahead is kept short so an
# upload holds a few parts in memory (about (queue + concurrency + 1) x part), not the file.
_TRANSFER = TransferConfig(
    multipart_threshold=8 * _MiB,
    multipart_chunksize=8 * _MiB,
    max_concurrency=4,
    max_io_queue=2,
    io_chunksize=_MiB,
)


class S3MediaStore:
    """A `MediaStore` keeping each file as the object `<prefix><key>` in one bucket."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        prefix: str = "",
        public_url: str | None = None,
        url_expiry: float = 3600.0,
        server_url: str,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix
        self.public_url = public_url
        self.url_expiry = url_expiry
        self.server_url = server_url
        # Credentials left None fall back to boto's own chain (environment, IAM role, ...).
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    async def open(self) -> None:
        """Open the one client all calls share (a connection pool); idempotent."""
        if self._client is not None:
            return
        stack = contextlib.AsyncExitStack()
        self._client = await stack.enter_async_context(
            self._session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=_config(self.endpoint_url),
            )
        )
        self._stack = stack

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def put(self, key: str, source: Path) -> None:
        """Upload the file at `source`; streamed from disk, multipart when large."""
        name = self._object(key)
        extra = {"ContentType": content_type_of(key)} | _disposition(key, "ContentDisposition")
        await self._s3().upload_file(
            str(source), self.bucket, name, ExtraArgs=extra, Config=_TRANSFER
        )

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these keys' objects; a missing one is no error (S3 says so too)."""
        names = [self._object(key) for key in keys]  # all checked before any is removed
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start : start + _DELETE_BATCH]
            response = await self._s3().delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": name} for name in batch], "Quiet": True},
            )
            # DeleteObjects answers 200 even when some keys failed; say so to the caller.
            if errors := response.get("Errors"):
                first = errors[0]
                raise OSError(
                    f"S3 could not delete {len(errors)} objects, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )

    async def keys_older_than(self, age: float) -> AsyncIterator[str]:
        """Keys under the prefix whose object was last written more than `age` seconds ago."""
        cutoff = datetime.now(UTC) - timedelta(seconds=age)
        pages = self._s3().get_paginator("list_objects_v2")
        async for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for found in page.get("Contents", []):
                key = str(found["Key"])[len(self.prefix) :]
                if is_key(key) and found["LastModified"] < cutoff:
                    yield key

    def url(self, key: str) -> str:
        if self.public_url:
            return f"{self.public_url.rstrip('/')}/{self.prefix}{key}"
        return f"{self.server_url.rstrip('/')}/media/{key}"

    async def locate(self, key: str) -> Redirect | None:
        """A pre-signed GET URL for `key`; no request is made, so an absent object shows
        up as the bucket's 404 when the client follows it."""
        if not is_key(key):
            return None
        params = {
            "Bucket": self.bucket,
            "Key": self.prefix + key,
            "ResponseContentType": content_type_of(key),
        } | _disposition(key, "ResponseContentDisposition")
        url = await self._s3().generate_presigned_url(
            "get_object", Params=params, ExpiresIn=int(self.url_expiry)
        )
        return Redirect(str(url))

    async def check_writable(self) -> None:
        """Put and delete a small probe object; raises if either fails."""
        # The probe's name never passes `is_key`, so a leftover one is never served or swept.
        name = f"{self.prefix}.probe-{secrets.token_hex(8)}"
        await self._s3().put_object(Bucket=self.bucket, Key=name, Body=b"ok")
        await self._s3().delete_object(Bucket=self.bucket, Key=name)

    def _s3(self) -> Any:
        if self._client is None:
            raise RuntimeError("S3MediaStore used before open()")
        return self._client

    def _object(self, key: str) -> str:
        # The only way a key becomes an object name: refuse anything `new_key` did not make.
        if not is_key(key):
            raise ValueError(f"not a media key: {key!r}")
        return self.prefix + key


def _config(endpoint_url: str | None) -> Config:
    """SigV4 everywhere; path-style addressing for a custom endpoint, since most
    S3-compatible servers (and loopback ones) have no per-bucket host names."""
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
    )


def _disposition(key: str, field: str) -> dict[str, str]:
    """PDFs are downloaded, never rendered inline, wherever they are served from."""
    if content_type_of(key) != "application/pdf":
        return {}
    return {field: f'attachment; filename="{key}"'}
