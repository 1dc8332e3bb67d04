"""The core flow of docs/protocol.md between a customer and a vendor."""

from __future__ import annotations

from tests.conftest import UserFactory
from tests.support import new_chat_fields, next_id
from tests.support.chat import HEX24, ISO_MS


async def test_first_message_creates_chat_and_reaches_vendor(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"p-{next_id()}"

    ack = await customer.call(
        "sendMessage",
        {
            "productId": product,
            "recipientId": vendor.id,
            "text": "Is it in stock?",
            **new_chat_fields(),
        },
    )
    assert ack["error"] is False
    message = ack["data"]
    assert HEX24.match(message["id"])
    assert ISO_MS.match(message["timestamp"])
    assert message["seq"] == 1
    assert message["senderType"] == "CUSTOMER"
    assert message["recipientOnline"] is True

    new_chat = await vendor.wait("newChat")
    assert new_chat["statusCode"] == 200
    assert new_chat["data"] == {}
    chat = new_chat["message"]
    assert chat["productId"] == product
    assert chat["vendorId"] == vendor.id
    assert chat["customerId"] == customer.id
    assert [m["text"] for m in chat["messages"]] == ["Is it in stock?"]

    own = await customer.wait("receiveMessage")
    assert own["message"] is None
    assert own["data"][0]["id"] == message["id"]
    assert vendor.received("receiveMessage") == []

    reply = await vendor.call(
        "sendMessage", {"productId": product, "recipientId": customer.id, "text": "Yes!"}
    )
    assert reply["data"]["seq"] == 2
    got = await customer.wait("receiveMessage", lambda d: d["data"][0]["text"] == "Yes!")
    assert got["data"][0]["senderType"] == "VENDOR"

    receipt = await customer.call("markAsRead", {"productId": product, "recipientId": vendor.id})
    assert receipt["message"] == "Messages marked as read"
    update = await vendor.wait("updateReadReceipts")
    assert update["data"]["chatId"] == chat["id"]
    assert update["data"]["messageIds"] == [reply["data"]["id"]]
    assert update["data"]["readerType"] == "CUSTOMER"
