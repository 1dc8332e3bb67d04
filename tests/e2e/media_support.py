"""Uploading to a test server: multipart bodies built by hand (so a test controls every
byte: no files at all, hostile file names) and what the server keeps on disk."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import Server, new_chat_fields, next_id, token


@dataclass(frozen=True)
class File:
    data: bytes
    filename: str = "upload.bin"
    content_type: str = "application/octet-stream"


def multipart(fields: dict[str, Any], files: list[File]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for i, f in enumerate(files):
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file{i}"; '
            f'filename="{f.filename}"\r\nContent-Type: {f.content_type}\r\n\r\n'
        )
        parts.append(head.encode() + f.data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def upload(
    server: Server,
    route: str,
    files: list[File],
    *,
    role: str = "customer",
    user_id: int,
    recipient_id: int | str,
    product_id: str,
    auth: str | None = "valid",
    **fields: Any,
) -> httpx.Response:
    """POST to /api/v1/chat/<route> as (role, user_id); `auth` None sends no token, any
    other value than "valid" is sent as the token itself."""
    form = {"productId": product_id, "recipientId": recipient_id} | new_chat_fields() | fields
    body, content_type = multipart(form, files)
    headers = {"Content-Type": content_type}
    if auth is not None:
        bearer = token(role, user_id) if auth == "valid" else auth
        headers["Authorization"] = f"Bearer {bearer}"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.post(f"/api/v1/chat/{route}", content=body, headers=headers)


async def upload_one(server: Server, route: str, file: File) -> dict[str, Any]:
    """Upload one file as a new customer starting a new chat; the stored media item."""
    response = await upload(
        server,
        route,
        [file],
        user_id=next_id(),
        recipient_id=next_id(),
        product_id=f"p-{next_id()}",
    )
    assert response.status_code == 201, response.text
    [item] = response.json()["data"]["messages"][0]["messageMedias"]
    return dict(item)


async def fetch(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as http:
        return await http.get(url, headers=headers)


def files_under(root: Path | None) -> set[Path]:
    """Every file the server keeps under its media directory, temporary ones included."""
    if root is None or not root.exists():
        return set()
    return {p for p in root.rglob("*") if p.is_file()}


def key_of(url: str) -> str:
    return url.rsplit("/", 1)[1]
