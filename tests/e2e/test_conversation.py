"""The conversation features of docs/protocol.md end to end, on both engines: editMessage,
addReaction/removeReaction, replyTo, updateChatSettings; every refusal of the contract
changes nothing stored and reaches nobody else; each change reaches every socket of both
parties (settings: the user's own) exactly once; a client away catches up through sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import UserFactory
from tests.dbcheck import chat_state, query
from tests.e2e.media_support import File, upload
from tests.media_files import png
from tests.support import Client, Server, next_id, token
from tests.support.chat import Json, check_chat, check_message, is_iso, ok, open_chat, send

QUIET = 0.4  # how long "nothing more arrived" waits
UNKNOWN_ID = "f" * 24


def refused(ack: Any, status: int) -> None:
    assert isinstance(ack, dict), ack
    assert ack.get("error") is True, ack
    assert ack.get("statusCode") == status, ack
    assert isinstance(ack.get("message"), str), ack
    assert ack["message"], ack


async def exactly_one(client: Client, event: str, where: Callable[[Any], bool]) -> Any:
    """The one `event` matching `where` that `client` gets, once nothing more came."""
    body = await client.wait(event, where)
    await asyncio.sleep(QUIET)
    got = [d for d in client.received(event) if where(d)]
    assert len(got) == 1, f"{client.role} {client.id}: {len(got)} {event}: {got}"
    return body


def about(message_id: str) -> Callable[[Any], bool]:
    return lambda d: (
        (d.get("data") or {}).get("id") == message_id
        or (d.get("data") or {}).get("messageId") == message_id
    )


@dataclass
class Chat:
    customer: Client
    tab: Client  # the customer's second socket
    vendor: Client
    stranger: Client  # a customer with a chat of their own with another vendor
    product: str
    chat_id: str
    first: Json  # the customer's first message
    other_chat_message: Json  # a message of the stranger's chat


@pytest.fixture
async def chat(connect: UserFactory) -> Chat:
    customer = await connect("customer")
    tab = await connect("customer", customer.id)
    vendor = await connect("vendor")
    stranger = await connect("customer")
    product = f"p-{next_id()}"
    first = await send(customer, product, vendor.id, "Is the lamp blue?", new=True)
    await vendor.wait("newChat")
    other = await open_chat(stranger, next_id())
    return Chat(customer, tab, vendor, stranger, product, first["chatId"], first, other)


async def unchanged_by(
    server: Server, c: Chat, refusals: list[tuple[Client, str, Json, int]]
) -> None:
    """Each refusal is refused with its status; nothing stored about the chat changed and
    no party's socket heard of any of them (but the caller's appError)."""
    before = await chat_state(server.database_url, c.chat_id)
    marks = {id(x): len(x.events) for x in (c.customer, c.tab, c.vendor, c.stranger)}
    for client, event, payload, status in refusals:
        refused(await client.call(event, payload), status)
    await asyncio.sleep(QUIET)
    assert await chat_state(server.database_url, c.chat_id) == before
    for x in (c.customer, c.tab, c.vendor, c.stranger):
        heard = [e for _, e, _ in x.events[marks[id(x)] :] if e != "appError"]
        assert heard == [], f"{x.role} {x.id} heard {heard}"


async def listed(client: Client, chat_id: str) -> Json:
    body = await client.request("joinChat", {"chatId": chat_id}, "loadMessages")
    return check_chat(ok(body, "Chats has been loaded"))


def by_id(chat: Json) -> dict[str, Json]:
    return {m["id"]: m for m in chat["messages"]}


# --- edit ---------------------------------------------------------------------------------


async def test_an_edit_reaches_both_parties_once_and_every_listing_shows_the_new_text(
    server: Server, chat: Chat
) -> None:
    c = chat
    mid = c.first["id"]
    mark = len(c.vendor.events)
    ack = await c.customer.call("editMessage", {"messageId": mid, "text": "Is the lamp red?"})
    edited = check_message(ok(ack, "Message has been edited"))
    assert edited["id"] == mid
    assert edited["text"] == "Is the lamp red?"
    assert is_iso(edited["editedAt"])
    assert edited["seq"] == c.first["seq"]
    assert c.first["editedAt"] is None
    for x in (c.vendor, c.tab):
        body = await exactly_one(x, "messageEdited", about(mid))
        assert ok(body, "Message has been edited")["text"] == "Is the lamp red?"
    # The sender's own copy is the ack; the sending socket hears the emit too (a user room).
    await exactly_one(c.customer, "messageEdited", about(mid))

    # The same text again changes nothing and emits nothing.
    again = await c.customer.call("editMessage", {"messageId": mid, "text": "Is the lamp red?"})
    assert ok(again)["editedAt"] == edited["editedAt"]
    await asyncio.sleep(QUIET)
    assert len([d for d in c.vendor.received("messageEdited") if about(mid)(d)]) == 1

    second = await c.customer.call("editMessage", {"messageId": mid, "text": "Or green?"})
    assert ok(second)["text"] == "Or green?"
    shown = by_id(await listed(c.vendor, c.chat_id))[mid]
    assert shown["text"] == "Or green?"
    assert shown["editedAt"] == ok(second)["editedAt"]
    chats = ok(await c.vendor.request("getUserChats", {}, "userChats"))
    [mine] = [x for x in chats if x["id"] == c.chat_id]
    assert by_id(mine)[mid]["text"] == "Or green?"
    # Every earlier version is kept, server-side only; never on the wire.
    versions = await query(
        server.database_url,
        "SELECT version, text FROM message_versions WHERE message_id = :m ORDER BY version",
        m=mid,
    )
    assert [tuple(v) for v in versions] == [(1, "Is the lamp blue?"), (2, "Is the lamp red?")]
    assert "Is the lamp blue?" not in repr(c.vendor.events[mark:])


async def test_offline_messages_carry_the_current_text(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendor_id = next_id()
    m = await open_chat(customer, vendor_id, "first draft")
    ok(await customer.call("editMessage", {"messageId": m["id"], "text": "final text"}))
    vendor = await connect("vendor", vendor_id)
    [offline] = ok(vendor.received("offlineMessages")[0])
    assert offline["text"] == "final text"
    assert is_iso(offline["editedAt"])


async def test_edits_refused_by_the_contract_change_nothing(server: Server, chat: Chat) -> None:
    c = chat
    mid = c.first["id"]
    gone = await send(c.customer, c.product, c.vendor.id, "to be deleted")
    ok(await c.customer.call("deleteMessage", {"messageId": gone["id"]}))
    await c.vendor.wait("messageDeleted")
    await asyncio.sleep(QUIET)
    await unchanged_by(
        server,
        c,
        [
            (c.vendor, "editMessage", {"messageId": mid, "text": "not yours"}, 403),
            (c.stranger, "editMessage", {"messageId": mid, "text": "nor yours"}, 403),
            (c.customer, "editMessage", {"messageId": gone["id"], "text": "deleted"}, 404),
            (c.customer, "editMessage", {"messageId": UNKNOWN_ID, "text": "unknown"}, 404),
            (c.customer, "editMessage", {"messageId": mid, "text": "   "}, 400),
            (c.customer, "editMessage", {"messageId": mid, "text": "x" * 5001}, 413),
            (c.customer, "editMessage", {"messageId": mid}, 400),
            (c.customer, "editMessage", {"messageId": mid, "text": 5}, 400),
        ],
    )


async def test_an_edit_after_the_window_is_refused(
    spawn_server: Callable[..., Server],
) -> None:
    node = spawn_server(SLYCHAT_EDIT_WINDOW="1s")
    customer = await (await Client(node.url, "customer", next_id()).connect()).ready()
    vendor = await (await Client(node.url, "vendor", next_id()).connect()).ready()
    try:
        m = await open_chat(customer, vendor.id, "soon frozen")
        ok(await customer.call("editMessage", {"messageId": m["id"], "text": "in time"}))
        await vendor.wait("messageEdited")
        await asyncio.sleep(1.2)
        before = await chat_state(node.database_url, m["chatId"])
        late = await customer.call("editMessage", {"messageId": m["id"], "text": "too late"})
        refused(late, 403)
        await asyncio.sleep(QUIET)
        assert len(vendor.received("messageEdited")) == 1
        assert await chat_state(node.database_url, m["chatId"]) == before
    finally:
        await customer.close()
        await vendor.close()


async def test_an_edit_window_of_zero_turns_editing_off(
    spawn_server: Callable[..., Server],
) -> None:
    node = spawn_server(SLYCHAT_EDIT_WINDOW="0")
    customer = await (await Client(node.url, "customer", next_id()).connect()).ready()
    try:
        m = await open_chat(customer, next_id(), "never edited")
        refused(await customer.call("editMessage", {"messageId": m["id"], "text": "no"}), 403)
    finally:
        await customer.close()


# --- reactions ----------------------------------------------------------------------------


async def test_one_reaction_per_participant_replaced_and_removed(
    server: Server, chat: Chat
) -> None:
    c = chat
    mid = c.first["id"]

    async def react(client: Client, emoji: str | None) -> list[Json]:
        if emoji is None:
            ack = await client.call("removeReaction", {"messageId": mid})
        else:
            ack = await client.call("addReaction", {"messageId": mid, "emoji": emoji})
        data = ok(ack, "Reactions updated")
        assert (data["chatId"], data["messageId"]) == (c.chat_id, mid)
        return list(data["reactions"])

    mark = {id(x): len(x.received("messageReactions")) for x in (c.customer, c.tab, c.vendor)}
    first = await react(c.vendor, "👍🏽")
    assert [(r["emoji"], r["userId"], r["userType"]) for r in first] == [
        ("👍🏽", c.vendor.id, "VENDOR")
    ]
    assert is_iso(first[0]["reactedAt"])
    both = await react(c.customer, "👩‍👩‍👧‍👦")
    assert [r["userType"] for r in both] == ["VENDOR", "CUSTOMER"]  # oldest first
    replaced = await react(c.vendor, "🇫🇷")
    assert [(r["emoji"], r["userType"]) for r in replaced] == [
        ("👩‍👩‍👧‍👦", "CUSTOMER"),
        ("🇫🇷", "VENDOR"),
    ]
    # The same reaction again changes nothing and emits nothing.
    assert await react(c.vendor, "🇫🇷") == replaced
    removed = await react(c.customer, None)
    assert [r["userType"] for r in removed] == ["VENDOR"]
    assert await react(c.customer, None) == removed  # nothing to remove: nothing emitted
    await asyncio.sleep(QUIET)
    # Four changes, each heard once on every socket of both parties, in order.
    for x in (c.customer, c.tab, c.vendor):
        heard = x.received("messageReactions")[mark[id(x)] :]
        assert [ok(b)["reactions"] for b in heard] == [first, both, replaced, removed], x.role
    assert c.stranger.received("messageReactions") == []
    shown = by_id(await listed(c.customer, c.chat_id))[mid]
    assert shown["reactions"] == removed
    rows = await query(
        server.database_url,
        "SELECT user_type, emoji FROM message_reactions WHERE message_id = :m",
        m=mid,
    )
    assert [tuple(r) for r in rows] == [("VENDOR", "🇫🇷")]


@pytest.mark.parametrize(
    "emoji",
    ["👍👍", "a", ":)", "🏽", "", " 👍", "👍\u200b", "x" * 80, 5, None, ["👍"]],
    ids=repr,
)
async def test_anything_but_one_emoji_is_refused(server: Server, chat: Chat, emoji: Any) -> None:
    await unchanged_by(
        server,
        chat,
        [(chat.vendor, "addReaction", {"messageId": chat.first["id"], "emoji": emoji}, 400)],
    )


async def test_reactions_refused_by_the_contract_change_nothing(server: Server, chat: Chat) -> None:
    c = chat
    gone = await send(c.customer, c.product, c.vendor.id, "to be deleted")
    ok(await c.vendor.call("addReaction", {"messageId": gone["id"], "emoji": "👍"}))
    ok(await c.customer.call("deleteMessage", {"messageId": gone["id"]}))
    await c.vendor.wait("messageDeleted")
    await asyncio.sleep(QUIET)
    mid = c.first["id"]
    await unchanged_by(
        server,
        c,
        [
            (c.stranger, "addReaction", {"messageId": mid, "emoji": "👍"}, 403),
            (c.stranger, "removeReaction", {"messageId": mid}, 403),
            (c.vendor, "addReaction", {"messageId": gone["id"], "emoji": "👍"}, 404),
            (c.vendor, "removeReaction", {"messageId": gone["id"]}, 404),
            (c.vendor, "addReaction", {"messageId": UNKNOWN_ID, "emoji": "👍"}, 404),
            (c.vendor, "addReaction", {"emoji": "👍"}, 400),
        ],
    )
    # The deleted message's reactions went with its content.
    rows = await query(
        server.database_url, "SELECT * FROM message_reactions WHERE message_id = :m", m=gone["id"]
    )
    assert rows == []


# --- replies ------------------------------------------------------------------------------


async def test_a_reply_quotes_the_message_as_it_reads_now(server: Server, chat: Chat) -> None:
    c = chat
    quoted = c.first
    reply = await send(c.vendor, c.product, c.customer.id, "Yes, blue.", replyTo=quoted["id"])
    assert reply["replyTo"] == {
        "id": quoted["id"],
        "senderId": c.customer.id,
        "senderType": "CUSTOMER",
        "text": "Is the lamp blue?",
        "hasMedia": False,
        "deleted": False,
    }
    for x in (c.customer, c.tab):
        body = await exactly_one(x, "receiveMessage", lambda d: d["data"][0]["id"] == reply["id"])
        assert body["data"][0]["replyTo"] == reply["replyTo"]
    plain = await send(c.vendor, c.product, c.customer.id, "No quote here")
    assert plain["replyTo"] is None

    long = await send(c.customer, c.product, c.vendor.id, "é" * 300)
    on_long = await send(c.vendor, c.product, c.customer.id, "That is long", replyTo=long["id"])
    assert on_long["replyTo"]["text"] == "é" * 200

    # The quote follows edits and deletes of the quoted message, in every listing.
    ok(await c.customer.call("editMessage", {"messageId": quoted["id"], "text": "Is it red?"}))
    assert by_id(await listed(c.customer, c.chat_id))[reply["id"]]["replyTo"]["text"] == (
        "Is it red?"
    )
    ok(await c.customer.call("deleteMessage", {"messageId": quoted["id"]}))
    page = by_id(await listed(c.vendor, c.chat_id))
    assert page[reply["id"]]["replyTo"] == reply["replyTo"] | {"text": None, "deleted": True}
    assert page[on_long["id"]]["replyTo"]["text"] == "é" * 200
    headers = {"Authorization": f"Bearer {token('customer', c.customer.id)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        r = await http.get(f"/api/v1/chat/{c.product}/{c.vendor.id}/{c.customer.id}")
    assert r.status_code == 200, r.text
    shown = {m["id"]: m for m in r.json()["data"]["messages"]}
    assert shown[reply["id"]]["replyTo"]["deleted"] is True


async def test_a_reply_outside_its_chat_is_refused_and_stores_nothing(
    server: Server, chat: Chat
) -> None:
    c = chat
    gone = await send(c.customer, c.product, c.vendor.id, "to be deleted")
    ok(await c.customer.call("deleteMessage", {"messageId": gone["id"]}))
    await c.vendor.wait("messageDeleted")
    await asyncio.sleep(QUIET)
    to_vendor = {"productId": c.product, "recipientId": c.vendor.id, "text": "re"}
    other = c.other_chat_message["id"]
    await unchanged_by(
        server,
        c,
        [
            (c.customer, "sendMessage", to_vendor | {"replyTo": other}, 400),
            (c.customer, "sendMessage", to_vendor | {"replyTo": UNKNOWN_ID}, 400),
            (c.customer, "sendMessage", to_vendor | {"replyTo": gone["id"]}, 400),
            (c.customer, "sendMessage", to_vendor | {"replyTo": 12}, 400),
        ],
    )
    # Into a chat that does not exist yet: there is nothing in it to answer.
    new_product = f"p-{next_id()}"
    ack = await c.customer.call(
        "sendMessage",
        {"productId": new_product, "recipientId": c.vendor.id, "text": "hi", "replyTo": other}
        | {"productName": "Lamp", "storeName": "Lights", "customerName": "Ann"},
    )
    refused(ack, 400)
    rows = await query(
        server.database_url, "SELECT id FROM chats WHERE product_id = :p", p=new_product
    )
    assert rows == []


async def test_an_upload_may_reply(server: Server, chat: Chat) -> None:
    c = chat
    answer = await upload(
        server,
        "send-image",
        [File(png())],
        user_id=c.vendor.id,
        role="vendor",
        recipient_id=c.customer.id,
        product_id=c.product,
        replyTo=c.first["id"],
    )
    assert answer.status_code == 201, answer.text
    message = answer.json()["data"]
    assert message["replyTo"]["id"] == c.first["id"]
    body = await c.customer.wait("receiveMedia", lambda d: d["data"][0]["id"] == message["id"])
    assert body["data"][0]["replyTo"]["text"] == "Is the lamp blue?"
    refusal = await upload(
        server,
        "send-image",
        [File(png())],
        user_id=c.vendor.id,
        role="vendor",
        recipient_id=c.customer.id,
        product_id=c.product,
        replyTo=c.other_chat_message["id"],
    )
    assert refusal.status_code == 400, refusal.text


# --- mute and archive ---------------------------------------------------------------------


async def test_settings_are_the_users_own_and_archive_hides_a_chat(
    server: Server, chat: Chat
) -> None:
    c = chat
    base = {"chatId": c.chat_id}
    ack = await c.customer.call("updateChatSettings", base | {"muted": True})
    assert ok(ack, "Chat settings updated") == {
        "chatId": c.chat_id,
        "muted": True,
        "archived": False,
    }
    for x in (c.customer, c.tab):
        body = await exactly_one(x, "chatSettings", lambda d: d["data"]["muted"] is True)
        assert body["data"] == ok(ack)
    archived = ok(await c.customer.call("updateChatSettings", base | {"archived": True}))
    assert archived == {"chatId": c.chat_id, "muted": True, "archived": True}
    # The same settings again: nothing emitted.
    ok(await c.customer.call("updateChatSettings", base | {"archived": True, "muted": True}))
    await asyncio.sleep(QUIET)
    assert len(c.tab.received("chatSettings")) == 2
    assert c.vendor.received("chatSettings") == []  # the other party never hears of them

    unarchived = ok(await c.customer.request("getUserChats", {}, "userChats"))
    assert c.chat_id not in [x["id"] for x in unarchived]
    only = ok(await c.customer.request("getUserChats", {"archived": True}, "userChats"))
    assert [x["id"] for x in only] == [c.chat_id]
    assert (only[0]["muted"], only[0]["archived"]) == (True, True)
    # The vendor's view of the same chat is theirs.
    theirs = ok(await c.vendor.request("getUserChats", {}, "userChats"))
    [mine] = [x for x in theirs if x["id"] == c.chat_id]
    assert (mine["muted"], mine["archived"]) == (False, False)
    assert (await listed(c.customer, c.chat_id))["muted"] is True
    headers = {"Authorization": f"Bearer {token('customer', c.customer.id)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        listed_http = (await http.get("/api/v1/chat", params={"archived": "true"})).json()
        plain_http = (await http.get("/api/v1/chat")).json()
    assert [x["id"] for x in listed_http["data"]] == [c.chat_id]
    assert c.chat_id not in [x["id"] for x in plain_http["data"]]
    # A new connection's userChats lists unarchived chats only.
    again = Client(server.url, "customer", c.customer.id)
    try:
        await (await again.connect()).ready()
        assert c.chat_id not in [x["id"] for x in ok(again.received("userChats")[0])]
    finally:
        await again.close()


async def test_settings_refused_by_the_contract_change_nothing(server: Server, chat: Chat) -> None:
    c = chat
    await unchanged_by(
        server,
        c,
        [
            (c.stranger, "updateChatSettings", {"chatId": c.chat_id, "muted": True}, 403),
            (c.customer, "updateChatSettings", {"chatId": UNKNOWN_ID, "muted": True}, 404),
            (c.customer, "updateChatSettings", {"chatId": c.chat_id}, 400),
            (c.customer, "updateChatSettings", {"chatId": c.chat_id, "muted": "yes"}, 400),
            (c.customer, "getUserChats", {"archived": "yes"}, 400),
        ],
    )


# --- sync ---------------------------------------------------------------------------------


async def test_a_client_away_catches_up_on_every_change_once_in_order(
    server: Server, chat: Chat, connect: UserFactory
) -> None:
    c = chat
    # Right after the last thing the vendor saw: the chat's first message.
    cursor = c.vendor.last("newChat")["message"]["messages"][-1]["syncCursor"]
    assert cursor is not None
    await c.vendor.close()
    mid = c.first["id"]
    second = await send(c.customer, c.product, c.vendor.id, "second")
    ok(await c.customer.call("editMessage", {"messageId": mid, "text": "v2"}))
    ok(await c.customer.call("addReaction", {"messageId": second["id"], "emoji": "❤️"}))
    ok(await c.customer.call("editMessage", {"messageId": mid, "text": "v3"}))
    ok(await c.customer.call("addReaction", {"messageId": second["id"], "emoji": "👍"}))
    ok(await c.customer.call("deleteMessage", {"messageId": second["id"]}))
    # The vendor's own settings, changed from another device while this one was away.
    other_device = await connect("vendor", c.vendor.id)
    ok(await other_device.call("updateChatSettings", {"chatId": c.chat_id, "muted": True}))
    ok(await other_device.call("updateChatSettings", {"chatId": c.chat_id, "archived": True}))
    await other_device.close()

    back = await connect("vendor", c.vendor.id)
    changes: list[Json] = []
    since = cursor
    while True:
        body = await back.request("syncMessages", {"since": since, "limit": 3})
        data = ok(body)
        assert "reset" not in data
        changes += data["changes"]
        since = data["syncCursor"]
        if not data["hasMore"]:
            break
    ours = [x for x in changes if x["chatId"] == c.chat_id]
    summary = [
        (
            x["type"],
            x.get("message", {}).get("text"),
            [r["emoji"] for r in x.get("reactions", [])],
            x.get("muted"),
            x.get("archived"),
        )
        for x in ours
    ]
    # The message deleted since is left out (its deletion follows); an edit shows the
    # message as it reads now; reactions and settings say what they said then.
    assert summary == [
        ("edited", "v3", [], None, None),
        ("reactions", None, ["❤️"], None, None),
        ("edited", "v3", [], None, None),
        ("reactions", None, ["👍"], None, None),  # the customer's one, replaced
        ("deleted", None, [], None, None),
        ("settings", None, [], True, False),
        ("settings", None, [], True, True),
    ]
    assert [x.get("messageId") for x in ours if x["type"] in ("reactions", "deleted")] == [
        second["id"]
    ] * 3
    assert all(x["message"]["id"] == mid for x in ours if x["type"] == "edited")
    assert all(is_iso(x["message"]["editedAt"]) for x in ours if x["type"] == "edited")
