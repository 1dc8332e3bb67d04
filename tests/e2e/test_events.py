"""Every /chat event of docs/protocol.md and every shape the server emits, end to end:
a customer and a vendor on separate connections, and two tabs of one user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.conftest import UserFactory
from tests.support import Client, new_chat_fields, next_id
from tests.support.chat import (
    DETAILS,
    Json,
    check_chat,
    check_message,
    is_iso,
    ok,
    open_chat,
    send,
)

QUIET = 0.4  # how long a negative assertion ("nothing arrived") waits

PER_VIEWER = {"syncCursor"}  # docs/protocol.md: each user's copy carries that user's own cursor


# --- shape checks -------------------------------------------------------------------------


def same(m: Json) -> Json:
    """A message as every viewer sees it: without the per-viewer `syncCursor`."""
    return {k: v for k, v in m.items() if k not in PER_VIEWER}


def received(body: Json) -> Json:
    """The one message of a `receiveMessage` envelope `{200, false, null, [message]}`."""
    assert body["statusCode"] == 200, body
    assert body["error"] is False, body
    assert body["message"] is None, body
    assert isinstance(body["data"], list), body
    assert len(body["data"]) == 1, body
    return same(check_message(body["data"][0]))


def app_error(body: Json, *statuses: int) -> None:
    assert isinstance(body, dict), body
    assert body.get("error") is True, body
    assert body.get("statusCode") in statuses, body
    assert isinstance(body.get("message"), str), body
    assert body["message"], body


def none_of(client: Client, event: str, where: Callable[[Any], bool] = lambda _d: True) -> None:
    got = [d for d in client.received(event) if where(d)]
    assert got == [], f"{client.role} {client.id} should not have got {event}: {got}"


def about(message_id: str) -> Callable[[Any], bool]:
    """A `receiveMessage` envelope carrying the message `message_id`."""
    return lambda d: any(m.get("id") == message_id for m in d.get("data") or [])


# --- actions --------------------------------------------------------------------------------


async def chats_via(client: Client, event: str, payload: Json | None = None) -> list[Json]:
    """`getUserChats` / `joinRooms`: the `userChats` data (the ack confirms it)."""
    body = await client.request(event, payload, "userChats")
    chats = ok(body, "Chats has been sent successfully")
    assert isinstance(chats, list), body
    for chat in chats:
        check_chat(chat)
    return chats


async def load(client: Client, payload: Json) -> Json:
    """`joinChat`: the chat of `loadMessages` (the ack confirms it)."""
    body = await client.request("joinChat", payload, "loadMessages")
    return check_chat(ok(body, "Chats has been loaded"))


def ids(messages: list[Json]) -> list[str]:
    return [m["id"] for m in messages]


# --- connect: userChats and offlineMessages ---------------------------------------------------


async def test_connect_sends_user_chats_and_offline_messages(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor_id = next_id()
    product = f"p-{next_id()}"

    # The vendor has never connected: these stay undelivered.
    first = await send(customer, product, vendor_id, "Hello?", new=True, clientMessageId="c-1")
    second = await send(customer, product, vendor_id, "Anyone there?")
    assert first["clientMessageId"] == "c-1"
    assert second["clientMessageId"] is None
    assert second["seq"] > first["seq"]
    for m in (first, second):
        assert m["recipientOnline"] is False
        assert m["deliveredAt"] is None
        assert m["read"] is False

    vendor = await connect("vendor", vendor_id)

    assert len(vendor.received("userChats")) == 1
    chats = ok(vendor.received("userChats")[0], "Chats have been sent successfully")
    assert len(chats) == 1
    chat = check_chat(chats[0])
    assert chat["id"] == first["chatId"]
    assert chat["productId"] == product
    assert chat["vendorId"] == vendor_id
    assert chat["customerId"] == customer.id
    assert {k: chat[k] for k in DETAILS} == new_chat_fields()
    assert ids(chat["messages"]) == [first["id"], second["id"]]
    assert chat["messages"][0]["clientMessageId"] == "c-1"
    assert chat["unreadCount"] == 2
    assert chat["hasMore"] is False
    for m in chat["messages"]:
        # the document's userChats example names the media list `messageMedia`
        assert m["messageMedia"] == []

    assert len(vendor.received("offlineMessages")) == 1
    offline = ok(
        vendor.received("offlineMessages")[0], "Offline messages has been sent successfully"
    )
    assert ids(offline) == [first["id"], second["id"]]
    for m in offline:
        check_message(m)
        assert m["senderId"] == customer.id
        assert m["senderType"] == "CUSTOMER"
        assert m["read"] is False
        assert is_iso(m["deliveredAt"])
        # the document's offlineMessages example names the media list `messageImages`
        assert m["messageImages"] == []

    delivered = ok(
        await customer.wait("messagesDelivered", lambda d: first["id"] in d["data"]["messageIds"]),
        "Messages delivered",
    )
    assert delivered["chatId"] == chat["id"]
    assert delivered["messageIds"] == [first["id"], second["id"]]
    assert delivered["deliveredAt"] == offline[0]["deliveredAt"]
    none_of(vendor, "messagesDelivered")

    # The vendor's own message to a customer who is no longer connected stays
    # undelivered (customers start chats; the vendor replies) ...
    other = await connect("customer")
    abroad = f"p-{next_id()}"
    asked = await send(other, abroad, vendor_id, "Do you ship abroad?", new=True)
    await vendor.wait("newChat", lambda d: d["message"]["id"] == asked["chatId"])
    await other.close()
    await vendor.wait("userIsOffline", lambda d: d["data"]["userId"] == other.id)
    own = await send(vendor, abroad, other.id, "Still interested?")
    assert own["deliveredAt"] is None
    await asyncio.sleep(0.01)  # distinct lastMessageAt milliseconds (ties go by chat id)
    # ... while a message to the connected vendor is delivered at once.
    third = await send(customer, product, vendor_id, "Are you there now?")
    assert is_iso(third["deliveredAt"])
    assert third["recipientOnline"] is True
    await vendor.wait("receiveMessage", about(third["id"]))

    # A second connection gets none of them again, and never its own messages.
    tab = await connect("vendor", vendor_id)
    assert (
        ok(tab.received("offlineMessages")[0], "Offline messages has been sent successfully") == []
    )
    listed = ok(tab.received("userChats")[0], "Chats have been sent successfully")
    assert [c["id"] for c in listed] == [chat["id"], own["chatId"]]  # newest activity first
    assert ids(check_chat(listed[0])["messages"]) == [first["id"], second["id"], third["id"]]
    assert ids(check_chat(listed[1])["messages"]) == [asked["id"], own["id"]]
    assert listed[1]["unreadCount"] == 1  # the vendor's own message is not unread to it

    await asyncio.sleep(QUIET)
    told = [
        d for d in customer.received("messagesDelivered") if first["id"] in d["data"]["messageIds"]
    ]
    assert len(told) == 1, told


async def test_offline_messages_exclude_own_undelivered_messages(connect: UserFactory) -> None:
    """A user reconnecting gets the other party's missed messages, never their own."""
    vendor = await connect("vendor")
    first = await connect("customer")
    customer_id = first.id
    product = f"p-{next_id()}"
    await send(first, product, vendor.id, "Any discounts?", new=True)
    await first.close()
    await vendor.wait("userIsOffline", lambda d: d["data"]["userId"] == customer_id)
    own = await send(vendor, product, customer_id, "We have a discount today")
    assert own["deliveredAt"] is None

    # the vendor reconnects on another connection: nothing of its own comes back
    again = await connect("vendor", vendor.id)
    assert (
        ok(again.received("offlineMessages")[0], "Offline messages has been sent successfully")
        == []
    )

    customer = await connect("customer", customer_id)
    offline = ok(
        customer.received("offlineMessages")[0], "Offline messages has been sent successfully"
    )
    assert ids(offline) == [own["id"]]
    assert offline[0]["senderType"] == "VENDOR"
    for tab in (vendor, again):
        got = ok(
            await tab.wait("messagesDelivered", lambda d: own["id"] in d["data"]["messageIds"]),
            "Messages delivered",
        )
        assert got["chatId"] == own["chatId"]
        assert got["deliveredAt"] == offline[0]["deliveredAt"]


# --- joinChat / loadMessages -------------------------------------------------------------------


async def test_join_chat_loads_messages_and_marks_them_read(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    first = await open_chat(customer, vendor.id)
    chat_id = first["chatId"]
    product = (await vendor.wait("newChat"))["message"]["productId"]
    second = await send(customer, product, vendor.id, "Second question")

    chat = await load(vendor, {"chatId": chat_id})
    assert chat["id"] == chat_id
    assert chat["productId"] == product
    assert chat["vendorId"] == vendor.id
    assert chat["customerId"] == customer.id
    assert {k: chat[k] for k in DETAILS} == new_chat_fields()
    assert ids(chat["messages"]) == [first["id"], second["id"]]
    assert all(m["read"] is True for m in chat["messages"])
    assert chat["unreadCount"] == 0
    assert chat["hasMore"] is False

    receipt = ok(await customer.wait("updateReadReceipts"), "Messages marked as read")
    assert receipt["chatId"] == chat_id
    assert receipt["readerId"] == vendor.id
    assert receipt["readerType"] == "VENDOR"
    assert is_iso(receipt["readAt"])
    assert receipt["messageIds"] == [first["id"], second["id"]]
    assert [m["readAt"] for m in chat["messages"]] == [receipt["readAt"]] * 2

    # By product and recipient, from the customer's side.
    reply = await send(vendor, product, customer.id, "Yes, it is")
    chat = await load(customer, {"productId": product, "recipientId": vendor.id})
    assert chat["id"] == chat_id
    assert ids(chat["messages"]) == [first["id"], second["id"], reply["id"]]
    assert chat["messages"][-1]["read"] is True
    assert chat["unreadCount"] == 0
    receipt = ok(await vendor.wait("updateReadReceipts"), "Messages marked as read")
    assert receipt["chatId"] == chat_id
    assert receipt["readerId"] == customer.id
    assert receipt["readerType"] == "CUSTOMER"
    assert receipt["messageIds"] == [reply["id"]]

    # the reader is not sent its own receipt
    await asyncio.sleep(QUIET)
    none_of(customer, "updateReadReceipts", lambda d: d["data"]["readerType"] == "CUSTOMER")
    none_of(vendor, "updateReadReceipts", lambda d: d["data"]["readerType"] == "VENDOR")


async def test_join_chat_pages_with_before_and_limit(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    first = await open_chat(customer, vendor.id, "m1")
    product = (await vendor.wait("newChat"))["message"]["productId"]
    sent = [first]
    for i in range(2, 6):
        sender, recipient = (vendor, customer) if i % 2 == 0 else (customer, vendor)
        sent.append(await send(sender, product, recipient.id, f"m{i}"))
    seqs = [m["seq"] for m in sent]
    assert seqs == list(range(seqs[0], seqs[0] + 5)), seqs  # strictly increasing, no gaps
    chat_id = first["chatId"]

    page = await load(vendor, {"chatId": chat_id, "limit": 2})
    assert ids(page["messages"]) == ids(sent[3:5])
    assert page["hasMore"] is True

    page = await load(vendor, {"chatId": chat_id, "before": sent[3]["seq"], "limit": 2})
    assert ids(page["messages"]) == ids(sent[1:3])
    assert page["hasMore"] is True

    page = await load(vendor, {"chatId": chat_id, "before": sent[1]["id"], "limit": 2})
    assert ids(page["messages"]) == ids(sent[0:1])
    assert page["hasMore"] is False

    page = await load(
        customer, {"productId": product, "recipientId": vendor.id, "before": sent[4]["id"]}
    )
    assert ids(page["messages"]) == ids(sent[0:4])
    assert page["hasMore"] is False

    page = await load(customer, {"chatId": chat_id})
    assert ids(page["messages"]) == ids(sent)
    assert page["hasMore"] is False


async def test_join_chat_refuses_unknown_and_foreign_chats(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    outsider = await connect("customer")
    first = await open_chat(customer, vendor.id)

    unknown = await outsider.call("joinChat", {"chatId": "0" * 24})
    app_error(unknown, 404)
    assert await outsider.wait("appError") == unknown

    foreign = await outsider.call("joinChat", {"chatId": first["chatId"]})
    app_error(foreign, 403, 404)

    missing = await outsider.call("joinChat", {})
    app_error(missing, 400)

    await asyncio.sleep(QUIET)
    none_of(outsider, "loadMessages")
    none_of(customer, "updateReadReceipts")
    chat = await load(vendor, {"chatId": first["chatId"]})
    assert chat["messages"][0]["read"] is True  # the outsider's attempt read nothing


# --- joinRooms / getUserChats -----------------------------------------------------------------


async def test_user_chats_sorted_newest_first_and_paged(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    opened = []
    for text in ("a", "b", "c"):
        opened.append(await open_chat(customer, vendor.id, text))
        await asyncio.sleep(0.01)  # distinct lastMessageAt milliseconds
    a, b, c = (m["chatId"] for m in opened)

    for event in ("getUserChats", "joinRooms"):
        chats = await chats_via(customer, event)
        assert [x["id"] for x in chats] == [c, b, a]
        stamps = [x["lastMessageAt"] for x in chats]
        assert stamps == sorted(stamps, reverse=True)
        assert all(x["unreadCount"] == 0 for x in chats)  # the customer's own messages
        assert all(x["customerId"] == customer.id for x in chats)

    listed = await chats_via(vendor, "getUserChats")
    assert [x["id"] for x in listed] == [c, b, a]
    assert [x["unreadCount"] for x in listed] == [1, 1, 1]
    assert [ids(x["messages"]) for x in listed] == [[m["id"]] for m in reversed(opened)]

    assert [x["id"] for x in await chats_via(customer, "getUserChats", {"limit": 2})] == [c, b]
    page = await chats_via(customer, "getUserChats", {"limit": 2, "before": b})
    assert [x["id"] for x in page] == [a]
    assert await chats_via(customer, "getUserChats", {"before": a}) == []

    # new activity moves a chat to the front
    product_a = listed[2]["productId"]
    await send(vendor, product_a, customer.id, "news")
    assert [x["id"] for x in await chats_via(customer, "getUserChats")] == [a, c, b]
    assert [x["id"] for x in await chats_via(vendor, "joinRooms")] == [a, c, b]


# --- sendMessage / receiveMessage / newChat -----------------------------------------------


async def test_send_message_reaches_every_tab_of_both_parties(connect: UserFactory) -> None:
    customer = await connect("customer")
    customer_tab = await connect("customer", customer.id)
    vendor = await connect("vendor")
    vendor_tab = await connect("vendor", vendor.id)
    everyone = (customer, customer_tab, vendor, vendor_tab)

    first = await open_chat(customer, vendor.id)
    assert first["recipientOnline"] is True
    assert first["read"] is False
    for tab in (vendor, vendor_tab):
        body = await tab.wait("newChat")
        assert body["statusCode"] == 200
        assert body["error"] is False
        assert body["data"] == {}
        chat = check_chat(body["message"])
        assert chat["id"] == first["chatId"]
        assert chat["vendorId"] == vendor.id
        assert chat["customerId"] == customer.id
        assert {k: chat[k] for k in DETAILS} == new_chat_fields()
        assert [same(m) for m in chat["messages"]] == [same(first)]
    for tab in (customer, customer_tab):
        body = await tab.wait("receiveMessage", about(first["id"]))
        assert received(body) == same(first)
    product = chat["productId"]

    # Existing chat: everyone's tabs, the sender's own included, get receiveMessage.
    payload = {
        "productId": product,
        "recipientId": customer.id,
        "text": "Yes, in stock",
        "clientMessageId": f"cm-{next_id()}",
    }
    ack = await vendor.call("sendMessage", payload)
    reply = check_message(ack["data"])
    assert ack["error"] is False
    assert reply["clientMessageId"] == payload["clientMessageId"]
    assert reply["chatId"] == first["chatId"]
    assert reply["seq"] == first["seq"] + 1
    assert reply["senderId"] == vendor.id
    assert reply["senderType"] == "VENDOR"
    assert reply["recipientOnline"] is True
    for tab in everyone:
        body = await tab.wait("receiveMessage", about(reply["id"]))
        assert received(body) == same(reply)
    # Delivered at once: every copy of the sender's says so, and no messagesDelivered
    # follows (that event is for messages that reach their recipient later).
    assert is_iso(reply["deliveredAt"])

    # A retry with the same clientMessageId: the same message, nothing broadcast again.
    again = await vendor_tab.call("sendMessage", payload)
    assert again["error"] is False
    assert again["data"]["id"] == reply["id"]
    assert again["data"]["seq"] == reply["seq"]
    await asyncio.sleep(QUIET)
    for tab in everyone:
        assert len([d for d in tab.received("receiveMessage") if about(reply["id"])(d)]) == 1
    for tab in (vendor, vendor_tab):
        assert len(tab.received("newChat")) == 1
        none_of(tab, "receiveMessage", about(first["id"]))  # a new chat comes as newChat
    for tab in (customer, customer_tab):
        none_of(tab, "newChat")
    for tab in everyone:
        none_of(tab, "messagesDelivered")
    chat = await load(customer, {"chatId": first["chatId"]})
    assert ids(chat["messages"]) == [first["id"], reply["id"]]


async def test_send_message_accepts_the_documents_payload(connect: UserFactory) -> None:
    """The document's sendMessage example as a client sends it: a client-made `chatId`,
    numbers or digit strings where ids and prices are expected."""
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = next_id()  # a number on the wire
    ack = await customer.call(
        "sendMessage",
        {
            "productId": product,
            "text": "Are you crazy?",
            "storeName": "Tech Haven",
            "customerName": "John Doe",
            "storeLogoUrl": "https://example.com/store-logo.png",
            "chatId": "1770ddc5-429c-4bdf-ae87-249da802d6c0",
            "customerProfilePic": "https://example.com/buyer-profile.jpg",
            "productPrice": 299,
            "productName": "Wireless Headphones",
            "recipientId": str(vendor.id),
            "productImageUrl": "https://example.com/product-image.jpg",
        },
    )
    assert ack["error"] is False, ack
    message = check_message(ack["data"])
    chat = check_chat((await vendor.wait("newChat"))["message"])
    assert chat["id"] == message["chatId"]
    assert chat["productId"] == str(product)
    assert chat["productPrice"] == "299"
    assert chat["vendorId"] == vendor.id
    assert chat["customerId"] == customer.id

    # both parties may use the same clientMessageId: it is per sender
    shared = f"cm-{next_id()}"
    mine = await send(customer, str(product), vendor.id, "from customer", clientMessageId=shared)
    theirs = await send(vendor, str(product), customer.id, "from vendor", clientMessageId=shared)
    assert mine["id"] != theirs["id"]
    assert theirs["seq"] == mine["seq"] + 1
    assert mine["clientMessageId"] == theirs["clientMessageId"] == shared


async def test_pages_hold_the_latest_fifty_messages_by_default(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    first = await open_chat(customer, vendor.id, "m1")
    product = (await vendor.wait("newChat"))["message"]["productId"]
    sent = [first]
    for i in range(2, 53):
        sent.append(await send(customer, product, vendor.id, f"m{i}"))

    listed = await chats_via(customer, "getUserChats")
    assert ids(listed[0]["messages"]) == ids(sent[-50:])
    assert listed[0]["hasMore"] is True
    later = await connect("vendor", vendor.id)
    on_connect = ok(later.received("userChats")[0], "Chats have been sent successfully")
    assert ids(check_chat(on_connect[0])["messages"]) == ids(sent[-50:])
    assert on_connect[0]["hasMore"] is True
    assert on_connect[0]["unreadCount"] == 52

    page = await load(vendor, {"chatId": first["chatId"]})
    assert ids(page["messages"]) == ids(sent[-50:])
    assert page["hasMore"] is True
    page = await load(vendor, {"chatId": first["chatId"], "before": sent[-50]["id"]})
    assert ids(page["messages"]) == ids(sent[:2])
    assert page["hasMore"] is False
    page = await load(vendor, {"chatId": first["chatId"], "limit": 200})
    assert ids(page["messages"]) == ids(sent)
    assert page["hasMore"] is False
    receipt = ok(await customer.wait("updateReadReceipts"), "Messages marked as read")
    assert receipt["messageIds"] == ids(sent)  # all 52, not only the page shown


async def test_send_message_rejects_bad_payloads(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"

    bad = [
        ({"recipientId": vendor.id, "text": "x", **new_chat_fields()}, 400),
        ({"productId": product, "text": "x", **new_chat_fields()}, 400),
        ({"productId": product, "recipientId": vendor.id, **new_chat_fields()}, 400),
        ({"productId": product, "recipientId": vendor.id, "text": "   ", **new_chat_fields()}, 400),
        ({"productId": product, "recipientId": vendor.id, "text": "new chat, no details"}, 400),
        (
            {
                "productId": product,
                "recipientId": vendor.id,
                "text": "x" * 5001,
                **new_chat_fields(),
            },
            413,
        ),
    ]
    for payload, status in bad:
        app_error(await customer.call("sendMessage", payload), status)
    await asyncio.sleep(QUIET)
    none_of(vendor, "newChat")
    none_of(customer, "receiveMessage")
    assert await chats_via(customer, "getUserChats") == []

    ok_message = await send(customer, product, vendor.id, "x" * 5000, new=True)
    assert len(ok_message["text"]) == 5000


# --- markAsRead / updateReadReceipts ---------------------------------------------------------


async def test_mark_as_read_by_product_and_by_chat_id(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    first = await open_chat(customer, vendor.id)
    chat_id = first["chatId"]
    product = (await vendor.wait("newChat"))["message"]["productId"]

    ack = await vendor.call("markAsRead", {"productId": product, "recipientId": customer.id})
    body = await customer.wait("updateReadReceipts")
    assert ack == body
    data = ok(body, "Messages marked as read")
    assert data["chatId"] == chat_id
    assert data["readerId"] == vendor.id
    assert data["readerType"] == "VENDOR"
    assert is_iso(data["readAt"])
    assert data["messageIds"] == [first["id"]]

    second = await send(customer, product, vendor.id, "hello again")
    third = await send(customer, product, vendor.id, "and again")
    ack = await vendor.call("markAsRead", {"chatId": chat_id})
    data = ok(await customer.wait("updateReadReceipts"), "Messages marked as read")
    assert ack["data"] == data
    assert data["chatId"] == chat_id
    assert data["readerType"] == "VENDOR"
    assert data["messageIds"] == [second["id"], third["id"]]

    chat = await load(customer, {"chatId": chat_id})
    assert all(m["read"] is True and is_iso(m["readAt"]) for m in chat["messages"])
    listed = await chats_via(vendor, "getUserChats")
    assert listed[0]["id"] == chat_id
    assert listed[0]["unreadCount"] == 0

    app_error(await vendor.call("markAsRead", {"chatId": "0" * 24}), 404)
    app_error(await vendor.call("markAsRead", {}), 400)
    await asyncio.sleep(QUIET)
    none_of(vendor, "updateReadReceipts", lambda d: d["data"]["readerType"] == "VENDOR")


# --- deleteMessage / messageDeleted ---------------------------------------------------------


async def test_delete_message_tells_both_parties_and_hides_it(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    customer_tab = await connect("customer", customer.id)
    first = await open_chat(customer, vendor.id)
    chat_id = first["chatId"]
    product = (await vendor.wait("newChat"))["message"]["productId"]
    second = await send(customer, product, vendor.id, "typo")
    kept = await send(vendor, product, customer.id, "kept")

    ack = await customer.call(
        "deleteMessage",
        {"productId": product, "recipientId": vendor.id, "messageId": second["id"]},
    )
    data = ok(ack, "Message has been deleted successfully")
    assert data["chatId"] == chat_id
    assert data["messageId"] == second["id"]
    for tab in (customer, customer_tab, vendor):
        body = await tab.wait("messageDeleted")
        got = ok(body, "Message has been deleted successfully")
        assert got["chatId"] == chat_id
        assert got["messageId"] == second["id"]

    # only the sender may delete; unknown or already deleted: 404
    app_error(await vendor.call("deleteMessage", {"messageId": first["id"]}), 403)
    app_error(await customer.call("deleteMessage", {"messageId": second["id"]}), 404)
    app_error(await customer.call("deleteMessage", {"messageId": "0" * 24}), 404)
    app_error(await customer.call("deleteMessage", {}), 400)

    # the `{messageId}` form alone
    ack = await customer.call("deleteMessage", {"messageId": first["id"]})
    assert ok(ack, "Message has been deleted successfully")["messageId"] == first["id"]
    got = ok(await vendor.wait("messageDeleted"), "Message has been deleted successfully")
    assert got == ack["data"]

    for reader in (vendor, customer):
        chat = await load(reader, {"chatId": chat_id})
        assert ids(chat["messages"]) == [kept["id"]]
        listed = await chats_via(reader, "getUserChats")
        assert [ids(c["messages"]) for c in listed] == [[kept["id"]]]
    later = await connect("vendor", vendor.id)
    listed = ok(later.received("userChats")[0], "Chats have been sent successfully")
    assert [ids(c["messages"]) for c in listed] == [[kept["id"]]]
    assert listed[0]["unreadCount"] == 0  # deleted messages are not unread either


async def test_deleted_unread_message_leaves_unread_count_and_offline_batch(
    connect: UserFactory,
) -> None:
    customer = await connect("customer")
    vendor_id = next_id()
    product = f"p-{next_id()}"
    first = await send(customer, product, vendor_id, "hello", new=True)
    oops = await send(customer, product, vendor_id, "wrong chat, sorry")
    app_error(await customer.call("deleteMessage", {"messageId": "f" * 24}), 404)
    ok(
        await customer.call("deleteMessage", {"messageId": oops["id"]}),
        "Message has been deleted successfully",
    )

    vendor = await connect("vendor", vendor_id)
    offline = ok(
        vendor.received("offlineMessages")[0], "Offline messages has been sent successfully"
    )
    assert ids(offline) == [first["id"]]
    listed = ok(vendor.received("userChats")[0], "Chats have been sent successfully")
    assert ids(listed[0]["messages"]) == [first["id"]]
    assert listed[0]["unreadCount"] == 1


# --- typing / stoppedTyping -------------------------------------------------------------------


async def test_typing_reaches_only_the_other_party(connect: UserFactory) -> None:
    customer = await connect("customer")
    customer_tab = await connect("customer", customer.id)
    vendor = await connect("vendor")
    vendor_tab = await connect("vendor", vendor.id)
    first = await open_chat(customer, vendor.id)
    chat_id = first["chatId"]
    product = (await vendor.wait("newChat"))["message"]["productId"]
    expected = {
        "chatId": chat_id,
        "productId": product,
        "senderId": customer.id,
        "senderType": "CUSTOMER",
    }

    await customer.emit("typing", {"productId": product, "recipientId": vendor.id})
    for tab in (vendor, vendor_tab):
        data = ok(await tab.wait("userTyping"), "User is typing")
        assert {k: data[k] for k in expected} == expected

    await customer.emit("stoppedTyping", {"productId": product, "recipientId": vendor.id})
    for tab in (vendor, vendor_tab):
        data = ok(await tab.wait("stoppedTyping"), "User has stopped typing")
        assert {k: data[k] for k in expected} == expected

    await vendor.emit("typing", {"productId": product, "recipientId": customer.id})
    for tab in (customer, customer_tab):
        data = ok(await tab.wait("userTyping"), "User is typing")
        assert data["chatId"] == chat_id
        assert data["productId"] == product
        assert data["senderId"] == vendor.id
        assert data["senderType"] == "VENDOR"

    await asyncio.sleep(QUIET)
    for tab in (customer, customer_tab):
        none_of(tab, "userTyping", lambda d: d["data"]["senderType"] == "CUSTOMER")
        none_of(tab, "stoppedTyping")
    for tab in (vendor, vendor_tab):
        none_of(tab, "userTyping", lambda d: d["data"]["senderType"] == "VENDOR")
        assert len(tab.received("userTyping")) == 1
        assert len(tab.received("stoppedTyping")) == 1


async def test_typing_before_a_chat_exists_creates_nothing(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"

    ack = await customer.call("typing", {"productId": product, "recipientId": vendor.id})
    data = ok(await vendor.wait("userTyping"), "User is typing")
    assert ack["data"] == data
    assert data["chatId"] is None
    assert data["productId"] == product
    assert data["senderId"] == customer.id
    assert data["senderType"] == "CUSTOMER"
    await customer.emit("stoppedTyping", {"productId": product, "recipientId": vendor.id})
    data = ok(await vendor.wait("stoppedTyping"), "User has stopped typing")
    assert data["chatId"] is None

    app_error(await customer.call("typing", {"productId": product}), 400)

    assert await chats_via(customer, "getUserChats") == []
    assert await chats_via(vendor, "getUserChats") == []
    app_error(
        await customer.call("joinChat", {"productId": product, "recipientId": vendor.id}), 404
    )
    none_of(customer, "userTyping")
