"""Small contract guarantees a hostile or unlucky client leans on."""

from __future__ import annotations

import pytest

from tests.conftest import UserFactory
from tests.dbcheck import message_rows
from tests.support import Server, new_chat_fields, next_id


async def test_a_deleted_message_keeps_its_idempotency_key(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    send = {
        "productId": f"p-{next_id()}",
        "recipientId": next_id(),
        "text": "oops",
        "clientMessageId": "retry-me",
        **new_chat_fields(),
    }
    first = await customer.call("sendMessage", send)
    await customer.call("deleteMessage", {"messageId": first["data"]["id"]})

    retry = await customer.call("sendMessage", send)  # a late retry of the same send

    assert retry["error"] is False
    assert retry["data"]["id"] == first["data"]["id"]
    assert retry["data"]["deletedAt"] is not None
    assert retry["data"]["text"] is None
    rows = await message_rows(server.database_url, first["data"]["chatId"])
    assert len(rows) == 1


@pytest.mark.parametrize(
    "cursor",
    ["", "v1", "v1..", "v1.%%%.@@@", "ü💥", "v1." + "A" * 200, "v1.\x01.\x02", "v2.a.b"],
)
async def test_a_garbled_sync_cursor_is_a_reset(connect: UserFactory, cursor: str) -> None:
    vendor = await connect("vendor")
    body = await vendor.request("syncMessages", {"since": cursor or " "})
    if body.get("error"):  # an empty or blank cursor is a bad payload, not a cursor
        assert body["statusCode"] == 400
        return
    assert body["data"]["reset"] is True
    assert body["data"]["changes"] == []


async def test_deeply_nested_payloads_are_refused(connect: UserFactory) -> None:
    customer = await connect("customer")
    deep: object = "x"
    for _ in range(140):  # 280 levels: past what a payload may be, within the client's reach
        deep = {"a": [deep]}
    ack = await customer.call("sendMessage", {"productId": "p", "recipientId": 1, "x": deep})
    assert ack["statusCode"] == 400
    assert "nested" in ack["message"]
