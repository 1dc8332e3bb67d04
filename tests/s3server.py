"""An S3-compatible server on loopback (moto), and fixtures for tests that need a bucket.

Register the fixtures in a conftest (or a test module) by importing them:
`from tests.s3server import s3_bucket, s3_server`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# moto accepts any credentials; explicit ones keep boto from searching for real ones.
ACCESS_KEY_ID = "testing-access-key"
SECRET_ACCESS_KEY = "testing-secret-key"
# Nothing on loopback goes through a proxy, and boto never asks the EC2 metadata service.
_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@dataclass(frozen=True, slots=True)
class S3Bucket:
    endpoint_url: str
    name: str
    region: str
    access_key_id: str
    secret_access_key: str

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A plain boto3 client on this bucket's server, closed after."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        try:
            yield client
        finally:
            client.close()

    def object_keys(self) -> set[str]:
        """The keys of the objects in the bucket now."""
        with self.client() as client:
            found = client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {o["Key"] for o in found}


@contextlib.contextmanager
def running_s3_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 and yield its endpoint URL; stop it after."""
    # Port 0: the kernel picks a free port at bind time, so no other process can take it
    # between choosing and binding.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        # stop() ends the serving thread but leaves the listening socket open, which
        # would surface later as a ResourceWarning.
        listener = server._server
        if listener is not None:
            listener.server_close()


@contextlib.contextmanager
def fresh_bucket(endpoint_url: str) -> Iterator[S3Bucket]:
    """Create a bucket with a unique name; empty and delete it after."""
    bucket = S3Bucket(
        endpoint_url, f"slychat-{secrets.token_hex(6)}", REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY
    )
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=bucket.region,
        aws_access_key_id=bucket.access_key_id,
        aws_secret_access_key=bucket.secret_access_key,
    )
    try:
        client.create_bucket(Bucket=bucket.name)
        try:
            yield bucket
        finally:
            _remove_bucket(client, bucket.name)
    finally:
        client.close()


def _remove_bucket(s3: Any, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects = [{"Key": found["Key"]} for found in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of an S3-compatible server on loopback, for the whole session."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in _ENV.items():
            env.setenv(name, value)
        with running_s3_server() as endpoint_url:
            yield endpoint_url


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[S3Bucket]:
    """A fresh, empty bucket on the loopback S3 server; removed after the test."""
    with fresh_bucket(s3_server) as bucket:
        yield bucket


__all__ = ["S3Bucket", "fresh_bucket", "running_s3_server", "s3_bucket", "s3_server"]
