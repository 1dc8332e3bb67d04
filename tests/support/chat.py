"""What the end-to-end tests check and do over the protocol: the shapes of envelopes,
chats and messages, and the client actions many tests take (a message sent, a chat
opened, a ready user, a presence question)."""

from __future__ import annotations

import re
from typing import Any

from tests.support import Client, Server, new_chat_fields, next_id

Json = dict[str, Any]

HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

CHAT_FIELDS = {
    "id",
    "productId",
    "vendorId",
    "customerId",
    "productImageUrl",
    "productPrice",
    "productName",
    "storeLogoUrl",
    "customerProfilePic",
    "customerName",
    "storeName",
    "lastMessageAt",
    "createdAt",
    "updatedAt",
    "messages",
    "unreadCount",
    "hasMore",
    "muted",
    "archived",
    "blocked",
}
MESSAGE_FIELDS = {
    "id",
    "masked",
    "chatId",
    "senderId",
    "senderType",
    "text",
    "timestamp",
    "read",
    "recipientOnline",
    "messageMedias",
    "seq",
    "clientMessageId",
    "readAt",
    "deliveredAt",
    "editedAt",
    "reactions",
    "replyTo",
}
DETAILS = {
    "productImageUrl",
    "productPrice",
    "productName",
    "storeLogoUrl",
    "customerProfilePic",
    "customerName",
    "storeName",
}


def is_iso(value: Any) -> bool:
    """An ISO 8601 UTC timestamp with milliseconds, as every time on the wire is."""
    return isinstance(value, str) and ISO_MS.match(value) is not None


def ok(body: Any, message: str | None = None) -> Any:
    """The success envelope (with `message`, when given: else any text); its data."""
    assert isinstance(body, dict), body
    assert body.get("statusCode") == 200, body
    assert body.get("error") is False, body
    if message is None:
        assert isinstance(body.get("message"), str), body
    else:
        assert body.get("message") == message, body
    assert "data" in body, body
    return body["data"]


def check_message(m: Json) -> Json:
    missing = MESSAGE_FIELDS - m.keys()
    assert not missing, f"message lacks {sorted(missing)}: {m}"
    assert HEX24.match(m["id"]), m["id"]
    assert HEX24.match(m["chatId"]), m["chatId"]
    assert type(m["senderId"]) is int, m
    assert m["senderType"] in ("CUSTOMER", "VENDOR"), m
    assert m["text"] is None or isinstance(m["text"], str), m
    assert is_iso(m["timestamp"]), m
    assert type(m["read"]) is bool, m
    assert type(m["recipientOnline"]) is bool, m
    assert type(m["masked"]) is bool, m
    assert m["messageMedias"] == [], m  # sendMessage and the events checked here carry text
    assert type(m["seq"]) is int, m
    assert m["seq"] >= 1, m
    assert m["clientMessageId"] is None or isinstance(m["clientMessageId"], str), m
    if m["read"]:
        assert is_iso(m["readAt"]), m
    else:
        assert m["readAt"] is None, m
    assert m["deliveredAt"] is None or is_iso(m["deliveredAt"]), m
    return m


def check_chat(c: Json) -> Json:
    missing = CHAT_FIELDS - c.keys()
    assert not missing, f"chat lacks {sorted(missing)}: {c}"
    assert HEX24.match(c["id"]), c["id"]
    assert isinstance(c["productId"], str), c
    assert type(c["vendorId"]) is int, c
    assert type(c["customerId"]) is int, c
    for name in DETAILS:
        assert c[name] is None or isinstance(c[name], str), (name, c)
    for name in ("lastMessageAt", "createdAt", "updatedAt"):
        assert is_iso(c[name]), (name, c)
    assert isinstance(c["messages"], list), c
    for m in c["messages"]:
        check_message(m)
        assert m["chatId"] == c["id"], m
    seqs = [m["seq"] for m in c["messages"]]
    assert seqs == sorted(set(seqs)), f"messages not oldest first in seq order: {seqs}"
    assert type(c["unreadCount"]) is int, c
    assert c["unreadCount"] >= 0, c
    assert type(c["hasMore"]) is bool, c
    assert type(c["blocked"]) is bool, c
    return c


async def send(
    sender: Client, product: str, recipient_id: int, text: str, *, new: bool = False, **extra: Any
) -> Json:
    """sendMessage with an ack (`new`: with a new chat's fields); the stored message."""
    payload = {"productId": product, "recipientId": recipient_id, "text": text, **extra}
    if new:
        payload |= new_chat_fields()
    ack = await sender.call("sendMessage", payload)
    assert ack.get("error") is False, ack
    assert ack.get("statusCode") == 200, ack
    message = check_message(ack["data"])
    assert message["text"] == text
    assert message["senderId"] == sender.id
    assert message["senderType"] == sender.user_type
    return message


async def open_chat(
    customer: Client, vendor_id: int, text: str = "Is it in stock?", product: str = ""
) -> Json:
    """A new chat about `product` (a fresh one by default), opened by the customer; its
    first message."""
    return await send(customer, product or f"p-{next_id()}", vendor_id, text, new=True)


async def ready(server: Server, role: str, user_id: int | None = None) -> Client:
    """A client of a new user (or `user_id`) on both namespaces, through its opening."""
    client = Client(server.url, role, user_id if user_id is not None else next_id())
    return await (await client.connect()).ready()


async def presence_of(asker: Client, user_id: int, user_type: str) -> Any:
    """checkOnlinePresence with an ack; the ack (the onlinePresence envelope or an error)."""
    ack = await asker.call(
        "checkOnlinePresence", {"userId": user_id, "userType": user_type}, ns="/presence"
    )
    if ack.get("error") is False:
        assert await asker.wait("onlinePresence", ns="/presence") == ack
    return ack
