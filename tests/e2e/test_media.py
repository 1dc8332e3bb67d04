"""Media messages through the upload routes (docs/protocol.md, "Uploads"), on a real server with
real files: stored safely, announced like messages, listed everywhere, served with the
right headers, and removed when their message goes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests import media_files
from tests.conftest import UserFactory
from tests.dbcheck import query
from tests.e2e.media_support import File, fetch, files_under, key_of, upload, upload_one
from tests.support import Server, new_chat_fields, next_id


def _media_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list(message["messageMedias"])


async def test_a_photo_starts_a_chat_and_is_listed_everywhere(
    server: Server, connect: UserFactory
) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"p-{next_id()}"

    response = await upload(
        server,
        "send-image",
        [File(media_files.jpeg_with_exif(), "photo.jpg", "image/jpeg")],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
        text="It arrived broken",
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["error"] is False
    chat = body["data"]  # a new chat: the chat, with its first message
    assert chat["productId"] == product
    [message] = chat["messages"]
    assert message["text"] == "It arrived broken"
    [item] = _media_of(message)
    assert item["mimeType"] == "image/jpeg"
    assert item["imageUrl"] == item["url"]
    assert item["url"].startswith(server.url + "/media/")
    assert "photo" not in item["url"]  # the client's name is never used
    assert message["messageMedia"] == message["messageImages"] == [item]

    new_chat = await vendor.wait("newChat")
    assert _media_of(new_chat["message"]["messages"][0]) == [item]
    own = await customer.wait("receiveMedia")
    assert own["message"] is None
    assert own["data"][0]["id"] == message["id"]
    assert customer.received("receiveMessage") == []

    # The stored file: re-encoded, without EXIF, its size as the document's string.
    stored = await fetch(item["url"])
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "image/jpeg"
    assert stored.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in stored.headers["content-security-policy"]
    assert item["size"] == str(len(stored.content))
    assert b"Exif" not in stored.content
    assert b"SlyCam" not in stored.content
    assert not Image.open(io.BytesIO(stored.content)).getexif()
    thumbnail = await fetch(item["thumbnailUrl"])
    assert thumbnail.status_code == 200
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 320

    # Every listing carries the same media.
    await vendor.emit("getUserChats")
    listed = await vendor.wait("userChats", lambda d: any(c["id"] == chat["id"] for c in d["data"]))
    [mine] = [c for c in listed["data"] if c["id"] == chat["id"]]
    assert _media_of(mine["messages"][0]) == [item]
    await vendor.emit("joinChat", {"chatId": chat["id"]})
    loaded = await vendor.wait("loadMessages")
    assert _media_of(loaded["data"]["messages"][0]) == [item]
    cursor = listed["syncCursor"]
    assert cursor is not None


async def test_media_in_an_existing_chat_reaches_the_room_as_receive_media(
    server: Server, connect: UserFactory
) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"p-{next_id()}"
    first = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "hello", **new_chat_fields()},
    )
    start = (await vendor.call("getUserChats"))["syncCursor"]

    response = await upload(
        server,
        "send-image",
        [
            File(media_files.png(), "a.png", "image/png"),
            File(media_files.webp(), "b.webp", "image/webp"),
        ],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
    )

    assert response.status_code == 201, response.text
    message = response.json()["data"]  # an existing chat: the message
    assert message["chatId"] == first["data"]["chatId"]
    assert message["text"] is None
    assert [m["mimeType"] for m in _media_of(message)] == ["image/png", "image/webp"]
    got = await vendor.wait("receiveMedia")
    assert got["statusCode"] == 200
    assert got["message"] is None
    [seen] = got["data"]
    assert seen["id"] == message["id"]
    assert _media_of(seen) == _media_of(message)
    png = Image.open(io.BytesIO((await fetch(_media_of(message)[0]["url"])).content))
    assert png.mode == "RGBA"  # transparency kept

    page = (await vendor.request("syncMessages", {"since": start}))["data"]
    synced = [c["message"] for c in page["changes"] if c["type"] == "message"]
    assert [_media_of(m) for m in synced] == [_media_of(message)]


async def test_offline_recipient_gets_media_in_offline_messages(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendor_id = next_id()
    product = f"p-{next_id()}"

    response = await upload(
        server,
        "send-pdf",
        [File(media_files.pdf(), "invoice.pdf", "application/pdf")],
        user_id=customer.id,
        recipient_id=vendor_id,
        product_id=product,
    )
    assert response.status_code == 201, response.text

    vendor = await connect("vendor", vendor_id)
    offline = vendor.last("offlineMessages")
    [message] = offline["data"]
    [item] = _media_of(message)
    assert item["mimeType"] == "application/pdf"
    assert "thumbnailUrl" not in item
    served = await fetch(item["url"])
    assert served.content == media_files.pdf()  # PDFs are stored as sent
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_a_rotated_photo_is_stored_upright(server: Server) -> None:
    item = await upload_one(server, "send-image", File(media_files.rotated_jpeg(), "r.jpg"))
    image = Image.open(io.BytesIO((await fetch(item["url"])).content))
    assert image.size == (40, 60)  # 60x40 turned by its EXIF orientation
    assert (item["width"], item["height"]) == (40, 60)
    assert not image.getexif()


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        (media_files.mp4, "video/mp4"),
        (media_files.webm, "video/webm"),
        (media_files.quicktime, "video/quicktime"),
    ],
)
async def test_videos_are_served_with_range_requests(
    server: Server, make: Any, content_type: str
) -> None:
    data = make()
    item = await upload_one(server, "send-video", File(data, "clip.mp4", "video/mp4"))
    assert item["mimeType"] == content_type
    assert item["size"] == str(len(data))
    part = await fetch(item["url"], Range="bytes=4-11")
    assert part.status_code == 206
    assert part.content == data[4:12]
    assert part.headers["content-type"] == content_type
    assert part.headers["content-range"] == f"bytes 4-11/{len(data)}"


async def test_deleting_a_message_removes_its_files(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    response = await upload(
        server,
        "send-image",
        [File(media_files.png(), "a.png", "image/png")],
        user_id=customer.id,
        recipient_id=next_id(),
        product_id=f"p-{next_id()}",
    )
    message = response.json()["data"]["messages"][0]
    [item] = _media_of(message)
    assert server.media_dir is not None
    kept = {server.media_dir / key_of(item["url"]), server.media_dir / key_of(item["thumbnailUrl"])}
    assert kept <= files_under(server.media_dir)

    ack = await customer.call("deleteMessage", {"messageId": message["id"]})

    assert ack["error"] is False
    assert not kept & files_under(server.media_dir)
    assert (await fetch(item["url"])).status_code == 404
    rows = await query(
        server.database_url, "SELECT id FROM message_media WHERE message_id = :m", m=message["id"]
    )
    assert rows == []


async def test_a_retried_upload_stores_nothing_new(server: Server, connect: UserFactory) -> None:
    """The same clientMessageId from the same sender: the retry is answered with the first
    message, and the retry's own files are not kept."""
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "hi", **new_chat_fields()},
    )
    before = files_under(server.media_dir)

    async def send() -> Any:
        return await upload(
            server,
            "send-pdf",
            [File(media_files.pdf(), "i.pdf", "application/pdf")],
            user_id=customer.id,
            recipient_id=vendor.id,
            product_id=product,
            clientMessageId="invoice-1",
        )

    first, retry = await send(), await send()

    assert first.status_code == retry.status_code == 201
    assert retry.json()["data"] == first.json()["data"]
    assert len(files_under(server.media_dir) - before) == 1
    await vendor.wait("receiveMedia")
    await vendor.call("getUserChats")  # a round trip: no second receiveMedia is coming
    assert len(vendor.received("receiveMedia")) == 1
