"""Bad uploads: each is answered with its 4xx and leaves nothing behind, on disk (the
store and the temporary files) or in the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import media_files
from tests.conftest import UserFactory
from tests.dbcheck import execute, query
from tests.e2e.media_support import File, files_under, upload
from tests.support import Server, new_chat_fields, next_id, token

JPEG = "image/jpeg"
MiB = 1024 * 1024


def _oversize_jpeg() -> bytes:
    """Starts like a JPEG (so it passes the type check) and runs past the 3 MiB limit."""
    return media_files.jpeg_with_exif() + b"\0" * (3 * MiB)


CASES: dict[str, tuple[str, Callable[[], list[File]], dict[str, Any], int]] = {
    "an executable named photo.jpg": (
        "send-image", lambda: [File(media_files.windows_exe(), "photo.jpg", JPEG)], {}, 415
    ),
    "a PDF sent as an image": (
        "send-image", lambda: [File(media_files.pdf(), "x.jpg", JPEG)], {}, 415
    ),
    "a photo sent as a video": (
        "send-video", lambda: [File(media_files.png(), "x.mp4", "video/mp4")], {}, 415
    ),
    "a GIF": ("send-image", lambda: [File(media_files.gif(), "x.gif", "image/gif")], {}, 415),
    "a truncated PNG": (
        "send-image", lambda: [File(media_files.truncated_png(), "t.png", "image/png")], {}, 400
    ),
    "a decompression bomb": (
        "send-image",
        lambda: [File(media_files.decompression_bomb_png(), "b.png", "image/png")],
        {},
        413,
    ),
    "no file": ("send-image", lambda: [], {}, 400),
    "four files": (
        "send-image", lambda: [File(media_files.png(), f"{i}.png") for i in range(4)], {}, 413
    ),
    "an oversize image": ("send-image", lambda: [File(_oversize_jpeg(), "big.jpg", JPEG)], {}, 413),
    "an empty file": ("send-image", lambda: [File(b"", "e.jpg", JPEG)], {}, 400),
    "a file name that climbs directories": (
        "send-image", lambda: [File(media_files.png(), "../../etc/passwd", "image/png")], {}, 400
    ),
    "no token": ("send-image", lambda: [File(media_files.png())], {"auth": None}, 401),
    "a bad token": ("send-image", lambda: [File(media_files.png())], {"auth": "not.a.jwt"}, 401),
    "an expired token": (
        "send-image",
        lambda: [File(media_files.png())],
        {"auth": token("customer", 1, ttl=-60)},
        401,
    ),
    "a recipientId that is not a number": (
        "send-image", lambda: [File(media_files.png())], {"recipient_id": "abc"}, 400
    ),
    "no productId": ("send-image", lambda: [File(media_files.png())], {"product_id": ""}, 400),
    "text over the limit": (
        "send-image", lambda: [File(media_files.png())], {"text": "x" * 5001}, 413
    ),
}  # fmt: skip


async def _stored_rows(server: Server, user_id: int) -> list[Any]:
    return await query(
        server.database_url,
        "SELECT m.id FROM messages m JOIN chats c ON c.id = m.chat_id "
        "WHERE c.customer_id = :u UNION ALL SELECT id FROM chats WHERE customer_id = :u",
        u=user_id,
    )


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_upload_is_refused_and_leaves_nothing(server: Server, case: str) -> None:
    route, make_files, overrides, status = CASES[case]
    customer_id = next_id()
    before = files_under(server.media_dir)
    media_rows = len(await query(server.database_url, "SELECT id FROM message_media"))
    args: dict[str, Any] = {
        "user_id": customer_id,
        "recipient_id": next_id(),
        "product_id": f"p-{next_id()}",
    } | overrides

    response = await upload(server, route, make_files(), **args)

    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] is True
    assert body["statusCode"] == status
    assert body["message"]
    assert files_under(server.media_dir) == before
    assert await _stored_rows(server, customer_id) == []
    assert len(await query(server.database_url, "SELECT id FROM message_media")) == media_rows


async def test_posting_into_a_strangers_chat_is_refused(
    server: Server, connect: UserFactory
) -> None:
    """A chat is addressed from the poster's own identity, so naming another pair's chat
    (its chatId, its product, its customer) can only address the stranger's own chat with
    that customer: which does not exist, and a vendor may not start it."""
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"p-{next_id()}"
    sent = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "private", **new_chat_fields()},
    )
    chat_id = sent["data"]["chatId"]
    before = files_under(server.media_dir)

    response = await upload(
        server,
        "send-image",
        [File(media_files.png(), "a.png", "image/png")],
        role="vendor",
        user_id=next_id(),  # a stranger to that chat
        recipient_id=customer.id,
        product_id=product,
        chatId=chat_id,
    )

    assert response.status_code == 403, response.text
    rows = await query(server.database_url, "SELECT id FROM messages WHERE chat_id = :c", c=chat_id)
    assert [r.id for r in rows] == [sent["data"]["id"]]
    assert files_under(server.media_dir) == before


async def test_a_failed_database_write_removes_the_stored_files(server: Server) -> None:
    """The files are stored before the transaction; when it fails they are removed."""
    trigger = _failing_trigger(server.database_url)
    await execute(server.database_url, *trigger.create)
    before = files_under(server.media_dir)
    try:
        response = await upload(
            server,
            "send-image",
            [File(media_files.png(), "a.png", "image/png")],
            user_id=next_id(),
            recipient_id=next_id(),
            product_id=f"p-{next_id()}",
        )
    finally:
        await execute(server.database_url, *trigger.drop)
    assert response.status_code == 500
    assert files_under(server.media_dir) == before


class _Trigger:
    def __init__(self, create: list[str], drop: list[str]) -> None:
        self.create, self.drop = create, drop


def _failing_trigger(database_url: str) -> _Trigger:
    """A trigger that makes every media row insert fail: a real failed transaction."""
    if database_url.startswith("sqlite"):
        return _Trigger(
            [
                "CREATE TRIGGER media_fails BEFORE INSERT ON message_media "
                "BEGIN SELECT RAISE(ABORT, 'media insert refused by the test'); END"
            ],
            ["DROP TRIGGER media_fails"],
        )
    return _Trigger(
        [
            "CREATE FUNCTION media_fails() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'media insert refused by the test'; END $$",
            "CREATE TRIGGER media_fails BEFORE INSERT ON message_media "
            "FOR EACH ROW EXECUTE FUNCTION media_fails()",
        ],
        ["DROP TRIGGER media_fails ON message_media", "DROP FUNCTION media_fails()"],
    )


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-www-form-urlencoded", b"productId=1&recipientId=2", 415),
        ("multipart/form-data", b"--x\r\n", 415),  # no boundary
        ("multipart/form-data; boundary=xyz", b"this is not multipart at all", 400),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz-',
            400,
        ),
    ],
)
async def test_a_body_that_is_not_a_multipart_form_is_refused(
    server: Server, content_type: str, body: bytes, status: int
) -> None:
    before = files_under(server.media_dir)
    headers = {"Authorization": f"Bearer {token('customer', next_id())}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/v1/chat/send-image",
            content=body,
            headers=headers | {"Content-Type": content_type},
        )
    assert response.status_code == status, response.text
    assert response.json()["statusCode"] == status
    assert files_under(server.media_dir) == before


async def test_a_declared_body_over_the_budget_is_refused_unread(server: Server) -> None:
    """Content-Length over what the route could ever accept: 413 before any of it is read,
    so a client that waits for `100 Continue` never sends it."""
    headers = {
        "Authorization": f"Bearer {token('customer', next_id())}",
        "Content-Type": "multipart/form-data; boundary=xyz",
        "Content-Length": str(1 << 40),
        "Expect": "100-continue",
    }
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"POST /api/v1/chat/send-image HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")
