"""Who may start a chat (SLYCHAT_CHAT_STARTERS, default `customer`): vendors reply."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import UserFactory
from tests.dbcheck import chat_rows
from tests.support import Client, Server, new_chat_fields, next_id


async def test_a_vendor_cannot_start_a_chat_by_default(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"

    ack = await vendor.call(
        "sendMessage",
        {"productId": product, "recipientId": customer.id, "text": "Buy now!", **new_chat_fields()},
    )

    assert ack == {
        "error": True,
        "message": "A vendor cannot start a chat; a customer starts it",
        "statusCode": 403,
    }
    assert (await vendor.wait("appError"))["statusCode"] == 403
    assert await chat_rows(server.database_url, product) == []
    # The customer heard nothing: a round trip on its own connection flushes anything
    # the server could have emitted to it before.
    await customer.call("getUserChats")
    assert customer.received("newChat") == []
    assert customer.received("receiveMessage") == []

    # Once the customer has started the chat, the vendor replies.
    started = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "Is it new?", **new_chat_fields()},
    )
    assert started["error"] is False
    reply = await vendor.call(
        "sendMessage", {"productId": product, "recipientId": customer.id, "text": "Yes"}
    )
    assert reply["error"] is False
    assert reply["data"]["chatId"] == started["data"]["chatId"]


async def test_vendor_outreach_can_be_allowed(spawn_server: Callable[..., Server]) -> None:
    srv = spawn_server(SLYCHAT_CHAT_STARTERS="customer,vendor")
    vendor = Client(srv.url, "vendor", next_id())
    await (await vendor.connect()).ready()
    try:
        ack = await vendor.call(
            "sendMessage",
            {
                "productId": f"p-{next_id()}",
                "recipientId": next_id(),
                "text": "Your order is ready to ship",
                **new_chat_fields(),
            },
        )
        assert ack["error"] is False, ack
        assert ack["data"]["senderType"] == "VENDOR"
    finally:
        await vendor.close()
