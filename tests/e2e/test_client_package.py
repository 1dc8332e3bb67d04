"""The JavaScript client package (clients/js, `slychat-client`) against real servers, on
SQLite and PostgreSQL: SlyChat clients in Node (clients/js/e2e/driver.mjs), with storage
in a JSON file standing in for localStorage, so that a client can be closed, its process
ended, and the next one start from what it left.

Needs Node.js and npm: skipped without them, except in CI, where that fails."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.client_package import Driver, DriverError, node_with_package
from tests.media_files import jpeg_with_exif, pdf, png
from tests.support import Client, Server, new_chat_fields, next_id, token

pytestmark = pytest.mark.node


@pytest.fixture(scope="session")
def node() -> str:
    return node_with_package()


@pytest.fixture
async def driver(node: str) -> AsyncIterator[Driver]:
    started = await Driver.start(node)
    yield started
    await started.close()


async def open_client(
    driver: Driver,
    name: str,
    url: str,
    tokens: list[str],
    storage: Path | None = None,
    **options: Any,
) -> None:
    await driver.call(
        "open",
        name=name,
        url=url,
        tokens=tokens,
        storage=str(storage) if storage else None,
        options={"presenceChecks": 0} | options,
    )


def heard(state: dict[str, Any], event: str) -> list[Any]:
    return [h["value"] for h in state["heard"] if h["event"] == event]


async def history(url: str, vendor_id: int, chat_id: str) -> list[dict[str, Any]]:
    """The chat's stored messages, oldest first, read by the vendor with a client of its own."""
    reader = Client(url, "vendor", vendor_id)
    try:
        await reader.connect()
        await reader.ready()
        page = await reader.request("joinChat", {"chatId": chat_id, "limit": 200}, "loadMessages")
        messages: list[dict[str, Any]] = page["data"]["messages"]
        return messages
    finally:
        await reader.close()


def sending(driver: Driver, chat_id: str, text: str) -> asyncio.Future[Any]:
    """A send of client "c" into a chat, answered once the message is stored."""
    return driver.submit("call", name="c", method="send", args=[{"chatId": chat_id, "text": text}])


def first_message(vendor_id: int, text: str, product: str = "p-client") -> dict[str, Any]:
    return {"productId": product, "recipientId": vendor_id, "text": text} | new_chat_fields()


async def test_two_clients_chat(driver: Driver, server: Server) -> None:
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "customer", server.url, [token("customer", customer_id)])
    await open_client(driver, "vendor", server.url, [token("vendor", vendor_id)])
    await driver.method("customer", "connect")
    await driver.method("vendor", "connect")

    sent = await driver.method("customer", "send", first_message(vendor_id, "Is it in stock?"))
    assert sent["text"] == "Is it in stock?"
    assert sent["senderType"] == "CUSTOMER"
    chat_id = sent["chatId"]
    reply = await driver.method("vendor", "send", {"chatId": chat_id, "text": "Yes, in black"})
    assert reply["chatId"] == chat_id
    assert reply["seq"] == sent["seq"] + 1

    # Each side heard the other's message once, and holds the chat with both messages.
    for name, other_text in (("customer", "Yes, in black"), ("vendor", "Is it in stock?")):
        # The sender's chat is provisional until the chat list it asks for comes back.
        for _ in range(200):
            state = await driver.state(name)
            heard_it = other_text in [m["text"] for m in heard(state, "message")]
            if heard_it and not any(c["provisional"] for c in state["chats"]):
                break
            await asyncio.sleep(0.05)
        texts = [m["text"] for m in heard(state, "message")]
        assert texts.count(other_text) == 1, texts
        [chat] = state["chats"]
        assert chat["id"] == chat_id
        assert chat["provisional"] is False
        assert [m["text"] for m in chat["messages"]] == ["Is it in stock?", "Yes, in black"]
        assert state["me"]["type"] == name.upper()

    # The vendor reads: the customer's message shows as read there, live.
    receipt = await driver.method("vendor", "markAsRead", chat_id)
    assert receipt["messageIds"] == [sent["id"]]
    for _ in range(200):
        state = await driver.state("customer")
        if heard(state, "read"):
            break
        await asyncio.sleep(0.05)
    assert heard(state, "read")[0]["messageIds"] == [sent["id"]]
    mine = state["chats"][0]["messages"][0]
    assert mine["read"] is True
    assert mine["readAt"]


async def test_a_closed_client_gets_exactly_the_five_it_missed_on_connect(
    node: str, server: Server, tmp_path: Path
) -> None:
    """The customer's app is closed (its process ends) while the vendor sends five messages;
    the next run, with the same storage, hears exactly those five, once each."""
    customer_id, vendor_id = next_id(), next_id()
    storage = tmp_path / "storage.json"
    first = await Driver.start(node)
    try:
        await open_client(first, "c", server.url, [token("customer", customer_id)], storage)
        await first.method("c", "connect")
        sent = await first.method("c", "send", first_message(vendor_id, "Hello?"))
        await first.method("c", "close")
    finally:
        await first.close()

    vendor = Client(server.url, "vendor", vendor_id)
    await vendor.connect()
    await vendor.ready()
    texts = [f"While you were away {i}" for i in range(1, 6)]
    try:
        for text in texts:
            ack = await vendor.call(
                "sendMessage", {"productId": "p-client", "recipientId": customer_id, "text": text}
            )
            assert ack["error"] is False, ack
    finally:
        await vendor.close()

    second = await Driver.start(node)
    try:
        await open_client(second, "c", server.url, [token("customer", customer_id)], storage)
        await second.method("c", "connect")  # resolves once caught up
        state = await second.state("c")
        assert [m["text"] for m in heard(state, "message")] == texts
        [chat] = state["chats"]
        assert chat["id"] == sent["chatId"]
        assert [m["text"] for m in chat["messages"]] == ["Hello?", *texts]
        assert chat["unreadCount"] == 5
        # It caught up from the stored cursor: one handshake, no full reload needed.
        assert [s["event"] for s in state["sent"]].count("getUserChats") == 0
    finally:
        await second.close()


async def test_a_reset_reloads_the_chats(driver: Driver, server: Server, tmp_path: Path) -> None:
    """A stored cursor the server did not issue to this user (here: another user's) gets a
    reset; the client reloads its chats and keeps the cursor the server gave instead."""
    customer_id, vendor_id = next_id(), next_id()
    sender = Client(server.url, "customer", customer_id)
    stranger = Client(server.url, "customer", next_id())
    try:
        await sender.connect()
        await sender.ready()
        ack = await sender.call("sendMessage", first_message(vendor_id, "Before the reset"))
        assert ack["error"] is False, ack
        await stranger.connect()
        foreign = (await stranger.wait("userChats"))["syncCursor"]
    finally:
        await sender.close()
        await stranger.close()
    storage = tmp_path / "storage.json"
    me = {"id": customer_id, "type": "CUSTOMER"}
    storage.write_text(
        json.dumps({"slychat:cursor": json.dumps(foreign), "slychat:me": json.dumps(me)})
    )

    await open_client(driver, "c", server.url, [token("customer", customer_id)], storage)
    await driver.method("c", "connect")
    state = await driver.state("c")
    sent = [s["event"] for s in state["sent"]]
    assert "getUserChats" in sent, sent  # the reload after the reset
    [chat] = state["chats"]
    assert [m["text"] for m in chat["messages"]] == ["Before the reset"]
    kept = json.loads(json.loads(storage.read_text())["slychat:cursor"])
    assert kept != foreign
    assert kept.startswith("v1.")


async def test_sends_during_a_server_restart_resolve_once_it_is_back_and_are_stored_once(
    driver: Driver, spawn_server: Callable[..., Server], log_dir: Path
) -> None:
    srv = spawn_server()
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "c", srv.url, [token("customer", customer_id)])
    await driver.method("c", "connect")
    first = await driver.method("c", "send", first_message(vendor_id, "before"))

    # Two sends on their way as the server drains and stops, two while it is away.
    racing = [sending(driver, first["chatId"], t) for t in ("racing 1", "racing 2")]
    await asyncio.to_thread(srv.stop)
    await driver.call("until", name="c", status="reconnecting")
    away = [sending(driver, first["chatId"], t) for t in ("away 1", "away 2")]
    await asyncio.to_thread(srv.start, log_dir)

    async with asyncio.timeout(60):
        stored = await asyncio.gather(*racing, *away)
    expected = ["racing 1", "racing 2", "away 1", "away 2"]
    assert [m["text"] for m in stored] == expected
    assert len({m["clientMessageId"] for m in stored}) == 4
    texts = [m["text"] for m in await history(srv.url, vendor_id, first["chatId"])]
    assert texts == ["before", *expected]  # each once, in the order sent
    state = await driver.state("c")
    assert state["pending"] == []


async def test_a_429_is_waited_out(driver: Driver, spawn_server: Callable[..., Server]) -> None:
    srv = spawn_server(SLYCHAT_RATE_MESSAGES="2/s:2")
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "c", srv.url, [token("customer", customer_id)])
    await driver.method("c", "connect")
    first = await driver.method("c", "send", first_message(vendor_id, "first"))
    texts = [f"burst {i}" for i in range(1, 6)]
    sends = [sending(driver, first["chatId"], t) for t in texts]
    async with asyncio.timeout(60):
        stored = await asyncio.gather(*sends)
    assert [m["text"] for m in stored] == texts
    state = await driver.state("c")
    limited = heard(state, "rateLimited")
    assert limited, "the server never answered 429: the test did not test anything"
    assert all(info["action"] == "sendMessage" and info["retryAfter"] > 0 for info in limited)
    texts_stored = [m["text"] for m in await history(srv.url, vendor_id, first["chatId"])]
    assert texts_stored == ["first", *texts]


async def test_a_bad_token_rejects_connect_with_401(driver: Driver, server: Server) -> None:
    forged = token("customer", next_id(), secret="not-the-server-secret-0123456789abcdef")
    await open_client(driver, "c", server.url, [forged])
    with pytest.raises(DriverError) as refused:
        await driver.method("c", "connect")
    assert refused.value.status == 401
    assert refused.value.message == "Invalid token"
    assert (await driver.state("c"))["status"] == "closed"


async def test_an_expired_token_is_replaced_through_the_token_function_on_reconnect(
    driver: Driver, spawn_server: Callable[..., Server]
) -> None:
    """The server cuts a socket whose token expired (30 s of leeway after `exp`); the
    client reconnects with what its token function returns now, and carries on."""
    srv = spawn_server(SLYCHAT_REVOCATION_POLL="0.5s")
    customer_id, vendor_id = next_id(), next_id()
    now = int(time.time())
    # Accepted for about 10 s more, then the server closes its sockets.
    expiring = token("customer", customer_id, ttl=-20, iat=now - 60)
    fresh = token("customer", customer_id, ttl=3600)
    await open_client(driver, "c", srv.url, [expiring, fresh])
    await driver.method("c", "connect")
    first = await driver.method("c", "send", first_message(vendor_id, "before it expired"))
    assert (await driver.state("c"))["tokenCalls"] == 1

    await driver.call("until", name="c", status="reconnecting", timeout=30)
    await driver.call("until", name="c", status="online", timeout=30)
    after = await driver.method(
        "c", "send", {"chatId": first["chatId"], "text": "with the new token"}
    )
    assert after["seq"] == first["seq"] + 1
    state = await driver.state("c")
    assert state["tokenCalls"] >= 2
    errors = heard(state, "error")
    assert {"statusCode": 401, "message": "Token has expired"} in errors, errors
    texts = [m["text"] for m in await history(srv.url, vendor_id, first["chatId"])]
    assert texts == ["before it expired", "with the new token"]


async def test_uploads_go_through_the_upload_routes(driver: Driver, server: Server) -> None:
    """A photo that starts a chat, then a PDF and two images with a caption into it: one
    message per kind, the caption with the first, both parties told."""
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "customer", server.url, [token("customer", customer_id)])
    await open_client(driver, "vendor", server.url, [token("vendor", vendor_id)])
    await driver.method("customer", "connect")
    await driver.method("vendor", "connect")

    def files(*items: tuple[str, str, bytes]) -> list[dict[str, str]]:
        return [{"name": n, "type": t, "base64": base64.b64encode(b).decode()} for n, t, b in items]

    target = {"productId": "p-upload", "recipientId": vendor_id} | new_chat_fields()
    [opening] = await driver.call(
        "upload",
        name="customer",
        target=target,
        files=files(("damaged.jpg", "image/jpeg", jpeg_with_exif())),
        options={"text": "Look"},
    )
    assert opening["text"] == "Look"
    assert opening["messageMedias"][0]["mimeType"] == "image/jpeg"
    chat_id = opening["chatId"]
    stored = await driver.call(
        "upload",
        name="customer",
        target={"chatId": chat_id},
        files=files(
            ("invoice.pdf", "application/pdf", pdf()),
            ("a.png", "image/png", png()),
            ("b.png", "image/png", png()),
        ),
        options={"text": "Invoice and photos"},
    )
    assert [[m["mimeType"] for m in s["messageMedias"]] for s in stored] == [
        ["application/pdf"],
        ["image/png", "image/png"],
    ]
    assert [s["text"] for s in stored] == ["Invoice and photos", None]
    for name in ("customer", "vendor"):
        for _ in range(200):
            state = await driver.state(name)
            if state["chats"] and len(state["chats"][0]["messages"]) == 3:
                break
            await asyncio.sleep(0.05)
        [chat] = state["chats"]
        assert [m["id"] for m in chat["messages"]] == [opening["id"], *(s["id"] for s in stored)]
    # A refusal rejects with the route's status (the file is not what its type says).
    with pytest.raises(DriverError) as refused:
        await driver.call(
            "upload",
            name="customer",
            target={"chatId": chat_id},
            files=files(("fake.png", "image/png", b"not a png at all")),
        )
    assert refused.value.status == 415


async def until_heard(
    driver: Driver, name: str, event: str, where: Callable[[Any], bool]
) -> dict[str, Any]:
    """The client's state once it heard `event` matching `where`."""
    for _ in range(200):
        state = await driver.state(name)
        if any(where(v) for v in heard(state, event)):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never heard {event}: {heard(state, event)}")


async def test_edits_reactions_replies_and_settings(driver: Driver, server: Server) -> None:
    """The conversation features through the package's methods, as an app uses them."""
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "customer", server.url, [token("customer", customer_id)])
    await open_client(driver, "vendor", server.url, [token("vendor", vendor_id)])
    await driver.method("customer", "connect")
    await driver.method("vendor", "connect")
    product = f"p-{next_id()}"
    sent = await driver.method("customer", "send", first_message(vendor_id, "Blue?", product))
    chat_id = sent["chatId"]
    reply = await driver.method(
        "vendor", "send", {"chatId": chat_id, "text": "Yes", "replyTo": sent["id"]}
    )
    assert reply["replyTo"]["id"] == sent["id"]
    assert reply["replyTo"]["text"] == "Blue?"

    edited = await driver.method("customer", "editMessage", sent["id"], "Blue or red?")
    assert edited["text"] == "Blue or red?"
    assert edited["editedAt"]
    state = await until_heard(driver, "vendor", "edited", lambda m: m["id"] == sent["id"])
    assert [m["text"] for m in heard(state, "edited")] == ["Blue or red?"]  # once
    held = {m["id"]: m for m in state["chats"][0]["messages"]}
    assert held[sent["id"]]["text"] == "Blue or red?"

    reacted = await driver.method("vendor", "react", sent["id"], "👍🏾")
    assert [r["emoji"] for r in reacted["reactions"]] == ["👍🏾"]
    state = await until_heard(driver, "customer", "reactions", lambda d: d["reactions"])
    assert len(heard(state, "reactions")) == 1
    held = {m["id"]: m for m in state["chats"][0]["messages"]}
    assert [r["emoji"] for r in held[sent["id"]]["reactions"]] == ["👍🏾"]
    with pytest.raises(DriverError) as bad:
        await driver.method("vendor", "react", sent["id"], "two 👍👍")
    assert bad.value.status == 400

    settings = await driver.method(
        "customer", "updateChatSettings", chat_id, {"muted": True, "archived": True}
    )
    assert settings == {"chatId": chat_id, "muted": True, "archived": True}
    [archived] = await driver.method("customer", "archivedChats")
    assert (archived["id"], archived["muted"], archived["archived"]) == (chat_id, True, True)
    state = await driver.state("vendor")
    assert (state["chats"][0]["muted"], state["chats"][0]["archived"]) == (False, False)


async def test_a_closed_client_catches_up_on_edits_and_reactions(
    node: str, server: Server, tmp_path: Path
) -> None:
    customer_id, vendor_id = next_id(), next_id()
    storage = tmp_path / "storage.json"
    product = f"p-{next_id()}"
    first = await Driver.start(node)
    try:
        await open_client(first, "c", server.url, [token("customer", customer_id)], storage)
        await first.method("c", "connect")
        sent = await first.method("c", "send", first_message(vendor_id, "Hello?", product))
        await first.method("c", "close")
    finally:
        await first.close()

    vendor = Client(server.url, "vendor", vendor_id)
    await vendor.connect()
    await vendor.ready()
    try:
        answer = await vendor.call(
            "sendMessage", {"productId": product, "recipientId": customer_id, "text": "Hi!"}
        )
        assert answer["error"] is False, answer
        mid = answer["data"]["id"]
        for payload in ({"messageId": mid, "text": "Hi there!"},):
            assert (await vendor.call("editMessage", payload))["error"] is False
        react = {"messageId": sent["id"], "emoji": "🎉"}
        assert (await vendor.call("addReaction", react))["error"] is False
    finally:
        await vendor.close()

    second = await Driver.start(node)
    try:
        await open_client(second, "c", server.url, [token("customer", customer_id)], storage)
        await second.method("c", "connect")
        state = await second.state("c")
        [chat] = state["chats"]
        held = {m["id"]: m for m in chat["messages"]}
        assert held[mid]["text"] == "Hi there!"
        assert held[mid]["editedAt"]
        assert [r["emoji"] for r in held[sent["id"]]["reactions"]] == ["🎉"]
        assert [m["text"] for m in heard(state, "message")] == ["Hi there!"]
        assert len(heard(state, "reactions")) == 1
    finally:
        await second.close()


async def test_search_pages_through_the_callers_messages(driver: Driver, server: Server) -> None:
    """`client.search(query, {chatId})` over searchMessages, paged with `next`."""
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "customer", server.url, [token("customer", customer_id)])
    await open_client(driver, "vendor", server.url, [token("vendor", vendor_id)])
    await driver.method("customer", "connect")
    await driver.method("vendor", "connect")
    tag = f"t{next_id()}"
    sent = await driver.method("customer", "send", first_message(vendor_id, f"Crème {tag} 0"))
    chat_id = sent["chatId"]
    ids = [sent["id"]]
    for i in range(1, 5):
        name = "vendor" if i % 2 else "customer"
        ids.append(
            (await driver.method(name, "send", {"chatId": chat_id, "text": f"creme {tag} {i}"}))[
                "id"
            ]
        )

    seen: list[str] = []
    options: dict[str, Any] = {"chatId": chat_id, "limit": 2}
    while True:
        page = await driver.method("vendor", "search", f"CREME {tag[:6]}", options)
        seen += [m["id"] for m in page["messages"]]
        if not page["hasMore"]:
            assert page["next"] is None
            break
        options["before"] = page["next"]
    assert seen == list(reversed(ids))
    # Bad queries reject with the server's 400; a stranger's search finds nothing.
    with pytest.raises(DriverError, match="400"):
        await driver.method("vendor", "search", "?")
    await open_client(driver, "stranger", server.url, [token("vendor", next_id())])
    await driver.method("stranger", "connect")
    assert (await driver.method("stranger", "search", tag))["messages"] == []


async def until_state(
    driver: Driver, name: str, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The client's state once `check` holds for it."""
    for _ in range(200):
        state = await driver.state(name)
        if check(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}: never {what}: {state}")


def chat_blocked(state: dict[str, Any], chat_id: str) -> bool | None:
    return next((c["blocked"] for c in state["chats"] if c["id"] == chat_id), None)


async def test_a_block_refuses_the_other_party_and_an_unblock_restores(
    driver: Driver, server: Server
) -> None:
    """The customer blocks the vendor from one of two tabs: both tabs' `blockedUsers` and
    chat flags follow; the vendor's send rejects with 403 once and is not sent again (its
    next message, to someone else, goes out after it); an unblock lets the retry through."""
    customer_id, vendor_id, other_id = next_id(), next_id(), next_id()
    for name, role, user in (
        ("customer", "customer", customer_id),
        ("tab", "customer", customer_id),
        ("vendor", "vendor", vendor_id),
    ):
        await open_client(driver, name, server.url, [token(role, user)])
        await driver.method(name, "connect")
    product = f"p-{next_id()}"
    sent = await driver.method("customer", "send", first_message(vendor_id, "Hello?", product))
    chat_id = sent["chatId"]
    await until_state(driver, "tab", lambda s: chat_blocked(s, chat_id) is False, "held the chat")
    await until_state(driver, "vendor", lambda s: chat_blocked(s, chat_id) is False, "held it")

    data = await driver.method("customer", "block", vendor_id)  # userType: the counterpart
    assert (data["userId"], data["userType"], data["blocked"]) == (vendor_id, "VENDOR", True)
    for name in ("customer", "tab"):
        state = await until_state(
            driver,
            name,
            lambda s: (
                [b["userId"] for b in s["blockedUsers"]] == [vendor_id]
                and chat_blocked(s, chat_id) is True
            ),
            "saw the block",
        )
        assert state["blockedUsers"][0]["blockedAt"] == data["blockedAt"]
        assert [len(lst) for lst in heard(state, "blocked")][-1] == 1
    assert chat_blocked(await driver.state("vendor"), chat_id) is False  # the blocker's flag

    with pytest.raises(DriverError) as refused:
        await driver.method("vendor", "send", {"chatId": chat_id, "text": "Please answer"})
    assert refused.value.status == 403
    # The outbox drains in order: a message queued after the refused one going out means
    # the refused one is not waiting to be sent again.
    other = Client(server.url, "customer", other_id)
    try:
        await other.connect()
        await other.ready()
        opened = await other.call("sendMessage", first_message(vendor_id, "Other", product))
        assert opened["error"] is False, opened
    finally:
        await other.close()
    later = await driver.method(
        "vendor", "send", {"productId": product, "recipientId": other_id, "text": "Hi other"}
    )
    assert later["text"] == "Hi other"
    state = await driver.state("vendor")
    attempts = [s for s in state["sent"] if s["event"] == "sendMessage"]
    assert [s["payload"]["text"] for s in attempts].count("Please answer") == 1
    [failed] = state["pending"]
    assert failed["failed"]
    assert failed["text"] == "Please answer"
    assert [m["text"] for m in await history(server.url, vendor_id, chat_id)] == ["Hello?"]

    lifted = await driver.method("customer", "unblock", vendor_id, "VENDOR")
    assert (lifted["blocked"], lifted["blockedAt"]) == (False, None)
    for name in ("customer", "tab"):
        await until_state(
            driver,
            name,
            lambda s: s["blockedUsers"] == [] and chat_blocked(s, chat_id) is False,
            "saw the unblock",
        )
    again = await driver.method("vendor", "retry", failed["clientMessageId"])
    assert again["clientMessageId"] == failed["clientMessageId"]
    texts = [m["text"] for m in await history(server.url, vendor_id, chat_id)]
    assert texts == ["Hello?", "Please answer"]


async def test_reports_resolve_with_the_report_and_a_second_is_folded_into_it(
    driver: Driver, server: Server
) -> None:
    customer_id, vendor_id = next_id(), next_id()
    await open_client(driver, "customer", server.url, [token("customer", customer_id)])
    await open_client(driver, "vendor", server.url, [token("vendor", vendor_id)])
    await driver.method("customer", "connect")
    await driver.method("vendor", "connect")
    sent = await driver.method(
        "customer", "send", first_message(vendor_id, "Pay me outside", f"p-{next_id()}")
    )

    first = await driver.method("vendor", "reportMessage", sent["id"], "scam", "Off the site")
    assert first["status"] == "open"
    assert first["created"] is True
    second = await driver.method("vendor", "reportMessage", sent["id"], "spam")
    assert second == {"id": first["id"], "status": "open", "created": False}

    user = await driver.method(
        "customer",
        "reportUser",
        {
            "userId": vendor_id,
            "userType": "VENDOR",
            "reason": "harassment",
            "chatId": sent["chatId"],
        },
    )
    assert user["created"] is True
    assert user["id"] != first["id"]
    with pytest.raises(DriverError) as own:
        await driver.method("customer", "reportMessage", sent["id"], "spam")
    assert own.value.status == 400  # one's own message
