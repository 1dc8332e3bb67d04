"""Block end to end, on both engines (PROTOCOL.md, "Trust and safety"): while either of two
users blocks the other, every path between them is refused (403, nothing stored, nobody
told) or silent (presence), in every chat of theirs; history stays readable; everyone
else is unaffected; unblocking restores everything; `blocked` is on the blocker's chat
objects only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import UserFactory
from tests.dbcheck import chat_rows, chat_state
from tests.e2e.media_support import File, files_under, upload
from tests.e2e.test_admin_api import create_key
from tests.media_files import png
from tests.support import Client, Server, new_chat_fields, next_id, token
from tests.support.chat import Json, check_chat, is_iso, ok, open_chat, presence_of, send

QUIET = 0.3  # how long "nothing more arrived" waits


def refused(ack: Any, status: int) -> Json:
    assert isinstance(ack, dict), ack
    assert ack.get("error") is True, ack
    assert ack.get("statusCode") == status, ack
    assert isinstance(ack.get("message"), str), ack
    assert ack["message"], ack
    return ack


@dataclass
class Pair:
    customer: Client
    tab: Client  # the customer's second socket
    vendor: Client
    other_customer: Client  # has a chat with the vendor
    other_vendor: Client  # has a chat with the customer
    product: str
    second_product: str  # a second chat between the pair
    chat_id: str
    second_chat_id: str
    first: Json  # the customer's first message
    reply: Json  # the vendor's answer
    other_chat_id: str  # the other customer's chat with the vendor
    other_product: str
    other_vendor_chat_id: str  # the customer's chat with the other vendor
    other_vendor_product: str
    start_cursor: str  # the customer's sync cursor before any chat existed


@pytest.fixture
async def pair(connect: UserFactory) -> Pair:
    customer = await connect("customer")
    start_cursor = customer.received("userChats")[0]["syncCursor"]
    tab = await connect("customer", customer.id)
    vendor = await connect("vendor")
    other_customer = await connect("customer")
    other_vendor = await connect("vendor")
    product, second = f"p-{next_id()}", f"p-{next_id()}"
    first = await send(customer, product, vendor.id, "Is the lamp blue?", new=True)
    reply = await send(vendor, product, customer.id, "It is")
    again = await send(customer, second, vendor.id, "And the chair?", new=True)
    other_product, other_vendor_product = f"p-{next_id()}", f"p-{next_id()}"
    other = await open_chat(other_customer, vendor.id, product=other_product)
    theirs = await open_chat(customer, other_vendor.id, product=other_vendor_product)
    return Pair(
        customer,
        tab,
        vendor,
        other_customer,
        other_vendor,
        product,
        second,
        first["chatId"],
        again["chatId"],
        first,
        reply,
        other["chatId"],
        other_product,
        theirs["chatId"],
        other_vendor_product,
        start_cursor,
    )


async def block(blocker: Client, target: Client) -> Json:
    ack = await blocker.call("blockUser", {"userId": target.id, "userType": target.user_type})
    data = ok(ack, "User has been blocked")
    assert (data["userId"], data["userType"], data["blocked"]) == (
        target.id,
        target.user_type,
        True,
    ), data
    assert is_iso(data["blockedAt"]), data
    return dict(data)


async def unblock(blocker: Client, target: Client) -> Json:
    ack = await blocker.call("unblockUser", {"userId": target.id, "userType": target.user_type})
    data = ok(ack, "User has been unblocked")
    assert data == {
        "userId": target.id,
        "userType": target.user_type,
        "blocked": False,
        "blockedAt": None,
    }
    return dict(data)


async def blocked_list(client: Client) -> list[Json]:
    body = await client.request("getBlockedUsers", None, "blockedUsers")
    return list(ok(body, "Blocked users have been sent successfully"))


async def chats_of(client: Client) -> dict[str, Json]:
    body = await client.request("getUserChats", {}, "userChats")
    return {c["id"]: check_chat(c) for c in ok(body)}


def about(user: Client) -> Any:
    return lambda d: (d.get("data") or {}).get("userId") == user.id


def heard_since(client: Client, mark: int) -> list[str]:
    """What the client was told since `mark`, but its own refusals and presence answers."""
    mine = ("appError", "onlinePresence")
    return [e for _, e, _ in client.events[mark:] if e not in mine]


async def test_a_block_refuses_every_path_between_the_pair_and_stores_nothing(
    server: Server, pair: Pair
) -> None:
    p = pair
    c, v = p.customer, p.vendor
    media_before = files_under(server.media_dir)
    data = await block(c, v)
    # The blocker's sockets hear their list; each party now reads offline to the other.
    for x in (c, p.tab):
        listed = ok(await x.wait("blockedUsers"))
        assert listed == [{"userId": v.id, "userType": "VENDOR", "blockedAt": data["blockedAt"]}]
    gone = ok(await v.wait("userIsOffline", about(c)))
    assert gone["lastSeen"] is None
    assert ok(await c.wait("userIsOffline", about(v)))["lastSeen"] is None

    states = {
        cid: await chat_state(server.database_url, cid) for cid in (p.chat_id, p.second_chat_id)
    }
    marks = {id(x): len(x.events) for x in (c, p.tab, v)}
    new_product = f"p-{next_id()}"
    to_customer = {"productId": p.product, "recipientId": c.id}
    to_vendor = {"productId": p.product, "recipientId": v.id}
    refusals: list[tuple[Client, str, Json]] = [
        # The blocked party, in both chats and in a chat that does not exist yet.
        (v, "sendMessage", to_customer | {"text": "Please answer"}),
        (v, "sendMessage", {"productId": p.second_product, "recipientId": c.id, "text": "Hi"}),
        (v, "typing", to_customer),
        (v, "stoppedTyping", to_customer),
        (v, "editMessage", {"messageId": p.reply["id"], "text": "It is not"}),
        (v, "addReaction", {"messageId": p.first["id"], "emoji": "👍"}),
        # The blocker too: nothing flows either way.
        (c, "sendMessage", to_vendor | {"text": "Still there?"}),
        (
            c,
            "sendMessage",
            {"productId": new_product, "recipientId": v.id, "text": "New one", "productName": "X"},
        ),
        (c, "typing", to_vendor),
        (c, "editMessage", {"messageId": p.first["id"], "text": "Is the lamp red?"}),
        (c, "addReaction", {"messageId": p.reply["id"], "emoji": "👍"}),
        (c, "removeReaction", {"messageId": p.reply["id"]}),
    ]
    for client, event, payload in refusals:
        refused(await client.call(event, payload), 403)
    # Files over HTTP, both ways: refused before anything is kept.
    for sender, recipient, role in ((v, c, "vendor"), (c, v, "customer")):
        answer = await upload(
            server,
            "send-image",
            [File(png(), "a.png", "image/png")],
            role=role,
            user_id=sender.id,
            recipient_id=recipient.id,
            product_id=p.product,
        )
        assert answer.status_code == 403, answer.text
    # Presence reads offline, never seen, both ways; a vendor is visible to anyone else.
    for asker, target in ((v, c), (c, v)):
        status = ok(await presence_of(asker, target.id, target.user_type))
        assert (status["status"], status["lastSeen"]) == ("offline", None), status
    assert ok(await presence_of(p.other_customer, v.id, "VENDOR"))["status"] == "online"

    await asyncio.sleep(QUIET)
    for cid, before in states.items():
        assert await chat_state(server.database_url, cid) == before
    assert await chat_rows(server.database_url, new_product) == []
    assert files_under(server.media_dir) == media_before
    # Nor does the platform open a new chat between them (the admin API).
    headers = {"Authorization": f"Bearer {create_key(server, 'chats:write')}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for text in (None, "Thanks for your order"):
            body = {"productId": new_product, "vendorId": v.id, "customerId": c.id}
            body |= new_chat_fields() | ({} if text is None else {"text": text})
            answer = await http.post("/api/v1/admin/chats", json=body, headers=headers)
            assert answer.status_code == 403, answer.text
    assert await chat_rows(server.database_url, new_product) == []
    for x in (c, p.tab, v):
        assert heard_since(x, marks[id(x)]) == [], f"{x.role} {x.id}"


async def test_everyone_else_is_unaffected_and_history_stays_readable(
    server: Server, pair: Pair
) -> None:
    p = pair
    c, v = p.customer, p.vendor
    await block(c, v)
    # The vendor's other customer, and the customer's other vendor, talk as before.
    w = p.other_vendor
    sent = await send(p.other_customer, p.other_product, v.id, "Another question")
    await v.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["id"])
    sent = await send(v, p.other_product, p.other_customer.id, "Yes")
    await p.other_customer.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["id"])
    ok(await p.other_customer.call("typing", {"productId": p.other_product, "recipientId": v.id}))
    await v.wait("userTyping", lambda d: d["data"]["senderId"] == p.other_customer.id)
    sent = await send(c, p.other_vendor_product, w.id, "Hello")
    await w.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["id"])
    ok(await w.call("typing", {"productId": p.other_vendor_product, "recipientId": c.id}))
    await c.wait("userTyping", lambda d: d["data"]["senderId"] == w.id)
    for asker, target in ((v, p.other_customer), (w, c)):
        assert ok(await presence_of(asker, target.id, target.user_type))["status"] == "online"
    # History: both read the chat, its messages there; search finds them.
    for x in (c, v):
        body = await x.request("joinChat", {"chatId": p.chat_id}, "loadMessages")
        shown = check_chat(ok(body, "Chats has been loaded"))
        assert [m["id"] for m in shown["messages"]] == [p.first["id"], p.reply["id"]]
        found = await x.request("searchMessages", {"query": "lamp"})
        assert p.first["id"] in [m["id"] for m in ok(found)["messages"]]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        url = f"/api/v1/chat/{p.product}/{v.id}/{c.id}"
        for x in (c, v):
            answer = await http.get(url, headers={"Authorization": f"Bearer {token(x.role, x.id)}"})
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["data"]["messages"]) == 2


async def test_blocked_is_on_the_blockers_chat_objects_only(server: Server, pair: Pair) -> None:
    p = pair
    c, v = p.customer, p.vendor
    await block(c, v)
    mine = await chats_of(c)
    assert mine[p.chat_id]["blocked"] is True
    assert mine[p.second_chat_id]["blocked"] is True  # one block covers all their chats
    assert mine[p.other_vendor_chat_id]["blocked"] is False
    theirs = await chats_of(v)
    assert theirs[p.chat_id]["blocked"] is False
    assert theirs[p.other_chat_id]["blocked"] is False
    loaded = await c.request("joinChat", {"chatId": p.chat_id}, "loadMessages")
    assert ok(loaded)["blocked"] is True
    loaded = await v.request("joinChat", {"chatId": p.chat_id}, "loadMessages")
    assert ok(loaded)["blocked"] is False
    # Sync: the chat changes of the customer's feed since before the chats existed.
    page = await c.request("syncMessages", {"since": p.start_cursor})
    shown = {
        ch["chatId"]: ch["chat"]["blocked"] for ch in ok(page)["changes"] if ch["type"] == "chat"
    }
    assert shown == {p.chat_id: True, p.second_chat_id: True, p.other_vendor_chat_id: False}
    # HTTP: the chat list and one chat's page.
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for x, expected in ((c, True), (v, False)):
            auth = {"Authorization": f"Bearer {token(x.role, x.id)}"}
            listed = (await http.get("/api/v1/chat", headers=auth)).json()["data"]
            assert {ch["id"]: ch["blocked"] for ch in listed}[p.chat_id] is expected
            page_url = f"/api/v1/chat/{p.product}/{v.id}/{c.id}"
            assert (await http.get(page_url, headers=auth)).json()["data"]["blocked"] is expected
    # A new socket's opening lists it too.
    fresh = Client(server.url, "customer", c.id)
    try:
        await (await fresh.connect()).ready()
        opening = {ch["id"]: ch["blocked"] for ch in ok(fresh.received("userChats")[0])}
        assert opening[p.chat_id] is True
        assert opening[p.other_vendor_chat_id] is False
    finally:
        await fresh.close()


async def test_presence_changes_are_not_sent_between_the_pair(server: Server, pair: Pair) -> None:
    p = pair
    c, v = p.customer, p.vendor
    await block(v, c)  # the vendor blocks this time
    await c.wait("userIsOffline", about(v))
    mark_v = len(v.events)
    await p.tab.close()
    await c.close()
    # The customer's other vendor hears them go and come back; the blocked vendor does not.
    await p.other_vendor.wait("userIsOffline", about(c))
    back = Client(server.url, "customer", c.id)
    again = Client(server.url, "vendor", v.id)
    try:
        await (await back.connect()).ready()
        await p.other_vendor.wait("userIsOnline", about(c))
        await asyncio.sleep(QUIET)
        heard = [e for _, e, d in v.events[mark_v:] if about(c)(d)]
        assert heard == [], heard
        # Nor does the customer hear of the vendor's comings and goings; the vendor's
        # other customer does.
        mark_back = len(back.events)
        await v.close()
        await p.other_customer.wait("userIsOffline", about(v))
        await (await again.connect()).ready()
        await p.other_customer.wait("userIsOnline", about(v))
        await asyncio.sleep(QUIET)
        assert [e for _, e, d in back.events[mark_back:] if about(v)(d)] == []
    finally:
        await back.close()
        await again.close()


async def test_unblock_restores_every_path_and_blocking_is_idempotent(
    server: Server, pair: Pair
) -> None:
    p = pair
    c, v = p.customer, p.vendor
    first = await block(c, v)
    await c.wait("blockedUsers")
    again = await block(c, v)
    assert again["blockedAt"] == first["blockedAt"]
    assert await blocked_list(c) == [
        {"userId": v.id, "userType": "VENDOR", "blockedAt": first["blockedAt"]}
    ]
    assert await blocked_list(v) == []
    # Both block: lifting one block leaves the other in force.
    await block(v, c)
    await unblock(c, v)
    assert ok(await c.wait("blockedUsers", lambda d: d["data"] == [])) == []
    to_customer = {"productId": p.product, "recipientId": c.id}
    refused(await v.call("sendMessage", to_customer | {"text": "Still blocked"}), 403)
    assert (await chats_of(v))[p.chat_id]["blocked"] is True
    assert (await chats_of(c))[p.chat_id]["blocked"] is False
    await unblock(v, c)
    # Each reads online to the other again, and hears so.
    assert ok(await c.wait("userIsOnline", about(v)))
    assert ok(await v.wait("userIsOnline", about(c)))
    assert ok(await presence_of(v, c.id, "CUSTOMER"))["status"] == "online"
    sent = await send(v, p.product, c.id, "Back again")
    for x in (c, p.tab):
        await x.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["id"])
    ok(await v.call("typing", to_customer))
    await c.wait("userTyping", lambda d: d["data"]["senderId"] == v.id)
    ok(await c.call("addReaction", {"messageId": sent["id"], "emoji": "👍"}))
    await v.wait("messageReactions", lambda d: d["data"]["messageId"] == sent["id"])
    assert (await chats_of(v))[p.chat_id]["blocked"] is False
    # Unblocking someone not blocked is a success that changes nothing.
    mark = len(c.events)
    await unblock(c, v)
    await asyncio.sleep(QUIET)
    assert "blockedUsers" not in heard_since(c, mark)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"userType": "VENDOR"}, "userId"),
        ({"userId": "seven", "userType": "VENDOR"}, "userId"),
        ({"userId": 7}, "userType"),
        ({"userId": 7, "userType": "SYSTEM"}, "userType"),
        ({"userId": 7, "userType": "CUSTOMER"}, "only block"),  # not the counterpart
        ({"userId": 7, "userType": "ADMIN"}, "only block"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    server: Server, connect: UserFactory, payload: Json, why: str
) -> None:
    customer = await connect("customer")
    for event in ("blockUser", "unblockUser"):
        ack = refused(await customer.call(event, payload), 400)
        assert why in ack["message"], ack
    assert refused(await customer.call("blockUser", ["not", "an", "object"]), 400)
    assert await blocked_list(customer) == []
    # Only the list asked for: no change was announced.
    assert [ok(b) for b in customer.received("blockedUsers")] == [[]]
