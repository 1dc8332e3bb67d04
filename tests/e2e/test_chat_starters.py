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


async def test_chat_metadata_is_held_to_safe_values(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    for field, value in [
        ("productImageUrl", "javascript:alert(document.cookie)"),
        ("storeLogoUrl", "data:image/svg+xml;base64,PHN2Zz4="),
        ("customerProfilePic", "https://user:pass@example.com/x.png"),
        ("productName", "n" * 201),
        ("productPrice", "9" * 65),
    ]:
        ack = await customer.call(
            "sendMessage",
            {"productId": product, "recipientId": vendor.id, "text": "hi"}
            | new_chat_fields(**{field: value}),
        )
        assert ack["statusCode"] == 400, (field, ack)
        assert field in ack["message"]
    assert await chat_rows(server.database_url, product) == []

    ack = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "hi"}
        | new_chat_fields(storeName="Lamp\u202e Co\u0007", productPrice=" 12.50 "),
    )
    assert ack["error"] is False, ack
    chat = (await vendor.wait("newChat"))["message"]
    assert chat["storeName"] == "Lamp Co"
    assert chat["productPrice"] == "12.50"


async def test_metadata_hosts_can_be_held_to_an_allowlist(
    spawn_server: Callable[..., Server],
) -> None:
    srv = spawn_server(SLYCHAT_MEDIA_HOSTS="cdn.example.com")
    customer = Client(srv.url, "customer", next_id())
    await (await customer.connect()).ready()
    try:
        base = {"productId": f"p-{next_id()}", "recipientId": next_id(), "text": "hi"}
        pixel = new_chat_fields(productImageUrl="https://tracker.example.net/p.gif")
        refused = await customer.call("sendMessage", base | pixel)
        assert refused["statusCode"] == 400
        assert "productImageUrl" in refused["message"]
        # Hosts that Python and browsers read differently (browsers fetch from evil.com).
        for disguised in (
            "https://evil.com\\.cdn.example.com/pixel.png",
            "https://evil.com\t.cdn.example.com/pixel.png",
            "https://cdn.example.com@evil.com/pixel.png",
            "https://evil.com%2F.cdn.example.com/pixel.png",
        ):
            fields = new_chat_fields(
                productImageUrl=disguised, storeLogoUrl=None, customerProfilePic=None
            )
            refused = await customer.call("sendMessage", base | fields)
            assert refused["statusCode"] == 400, disguised
            assert "productImageUrl" in refused["message"]
        allowed = new_chat_fields(
            productImageUrl="https://img.cdn.example.com/p.jpg",
            storeLogoUrl="https://cdn.example.com/logo.png",
            customerProfilePic=None,
        )
        assert (await customer.call("sendMessage", base | allowed))["error"] is False
    finally:
        await customer.close()
