"""Webhooks against a real receiver on loopback: chat.created, message.unread batched per
recipient, signatures, retries after errors and hangs, durability across a SIGKILL, no
notice for a message read or a recipient who came online, one delivery with two nodes.

Every server here shares the session's database with other tests, whose unread messages
may produce notices too: each test looks only at its own users and chats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.contracts.test_webhook_contract import check_documented
from tests.e2e.test_admin_api import admin, create_key, open_body
from tests.support import ON_SQLITE, ROOT, Client, Server, new_chat_fields, next_id
from tests.support.chat import send
from tests.webhook_receiver import (
    Call,
    Json,
    Receiver,
    chat_created,
    documented_verifier,
    unread_for,
    verifier_source,
)

SECRET = "webhook-secret-0123456789abcdef-0123456789"
DELAY = 1.0
SLOW_DELAY = 2.0
POLL = 0.2


def webhook_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "SLYCHAT_WEBHOOK_URL": receiver.url,
        "SLYCHAT_WEBHOOK_SECRET": SECRET,
        "SLYCHAT_UNREAD_DELAY": f"{DELAY}s",
        "SLYCHAT_WEBHOOK_POLL": f"{POLL}s",
        "SLYCHAT_WEBHOOK_TIMEOUT": "1s",
    } | extra


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    await asyncio.gather(*(client.close() for client in made))


async def online(
    clients: list[Client], node: Server, role: str, user_id: int | None = None
) -> Client:
    client = Client(node.url, role, user_id if user_id is not None else next_id())
    clients.append(client)
    return await (await client.connect()).ready()


def chat_counts(call: Call) -> dict[str, int]:
    return {chat["id"]: chat["unreadCount"] for chat in call.json["data"]["chats"]}


@ON_SQLITE
async def test_unread_messages_are_batched_per_recipient_and_signed(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    # The three messages must be sent well within the delay, even on a busy machine.
    node = spawn_server(**webhook_env(receiver, SLYCHAT_UNREAD_DELAY=f"{SLOW_DELAY}s"))
    customer = await online(clients, node, "customer")
    vendor_id = next_id()  # never connects
    first = await send(customer, "p-a", vendor_id, "Is it in stock?", new=True)
    await send(customer, "p-a", vendor_id, "And in blue?", new=True)
    other = await send(customer, "p-b", vendor_id, "What about this one?", new=True)

    [call] = await receiver.wait(unread_for(vendor_id))
    body = call.json
    assert chat_counts(call) == {first["chatId"]: 2, other["chatId"]: 1}
    assert body["data"]["unreadCount"] == 3
    newest = {c["id"]: c["lastMessageId"] for c in body["data"]["chats"]}
    assert newest[other["chatId"]] == other["id"]
    assert "Is it in stock?" not in call.body.decode()  # never the messages' text
    assert body["id"] == call.headers["Webhook-Id"]
    assert call.headers["Content-Type"] == "application/json"
    assert check_documented(call.headers, call.body) == "message.unread"  # the OpenAPI webhook

    verify = documented_verifier()
    assert verify(SECRET.encode(), call.headers, call.body)
    assert not verify(b"another-secret-0123456789abcdef0123", call.headers, call.body)
    assert not verify(SECRET.encode(), call.headers, call.body.replace(b"VENDOR", b"VENDOX"))
    stale = call.headers | {"Webhook-Timestamp": str(int(call.headers["Webhook-Timestamp"]) - 301)}
    assert not verify(SECRET.encode(), stale, call.body)

    # Both chats were reported as created, in the transaction of their first message.
    for message in (first, other):
        [created] = await receiver.wait(chat_created(message["chatId"]))
        chat = created.json["data"]["chat"]
        assert chat["vendorId"] == vendor_id
        assert chat["customerId"] == customer.id
        assert chat["productName"] == new_chat_fields()["productName"]
        assert verify(SECRET.encode(), created.headers, created.body)
        assert check_documented(created.headers, created.body) == "chat.created"

    # A later message is a new notice with only what is new; the first is not repeated.
    later = await send(customer, "p-b", vendor_id, "Hello?", new=True)
    calls = await receiver.wait(unread_for(vendor_id), count=2)
    assert len(calls) == 2
    assert chat_counts(calls[1]) == {later["chatId"]: 2}
    assert calls[1].json["data"]["chats"][0]["lastMessageId"] == later["id"]


@ON_SQLITE
async def test_a_failed_call_is_retried_with_the_same_id(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    # The first call about each chat fails: one with a 500, the other by hanging past
    # SLYCHAT_WEBHOOK_TIMEOUT (1 s). Both are delivered by a later attempt.
    failing_product, hanging_product = f"p-{next_id()}", f"p-{next_id()}"

    def script(body: Json, before: list[Call]) -> int | float:
        if body["type"] != "chat.created" or before:
            return 200
        product = body["data"]["chat"]["productId"]
        return 500 if product == failing_product else 3.0 if product == hanging_product else 200

    receiver.script = script
    node = spawn_server(**webhook_env(receiver))
    customer = await online(clients, node, "customer")
    vendor = await online(clients, node, "vendor")  # online: no unread notices
    for product in (failing_product, hanging_product):
        message = await send(customer, product, vendor.id, "Hi", new=True)
        first, second = await receiver.wait(chat_created(message["chatId"]), count=2)
        assert first.id == second.id == first.json["id"]
        assert first.body == second.body
    # Recorded once each answer is in the outbox row, a moment after the receiver saw it.
    await metric_reaches(node, "slychat_webhook_failures_total", 2)
    metrics = await metric_reaches(node, "slychat_webhooks_delivered_total", 2)
    assert metrics["slychat_webhook_backlog"] >= 0
    assert metrics["slychat_webhooks_given_up_total"] == 0


@ON_SQLITE
async def test_a_call_failing_for_the_retry_period_is_given_up(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    product = f"p-{next_id()}"

    def script(body: Json, _before: list[Call]) -> int | float:
        refused = body["type"] == "chat.created" and body["data"]["chat"]["productId"] == product
        return 503 if refused else 200

    receiver.script = script
    node = spawn_server(**webhook_env(receiver, SLYCHAT_WEBHOOK_RETRY_FOR="2s"))
    customer = await online(clients, node, "customer")
    vendor = await online(clients, node, "vendor")
    message = await send(customer, product, vendor.id, "Hi", new=True)
    await receiver.wait(chat_created(message["chatId"]))
    await metric_reaches(node, "slychat_webhooks_given_up_total", 1)
    calls = len(receiver.matching(chat_created(message["chatId"])))
    await asyncio.sleep(5 * POLL)  # given up: no attempt after that
    assert len(receiver.matching(chat_created(message["chatId"]))) == calls


async def test_pending_webhooks_survive_a_killed_server(
    spawn_server: Callable[..., Server], clients: list[Client]
) -> None:
    receiver = Receiver()  # not listening yet: every attempt fails
    first = spawn_server(**webhook_env(receiver))
    customer = await online(clients, first, "customer")
    vendor_id = next_id()
    message = await send(customer, f"p-{next_id()}", vendor_id, "Anyone there?", new=True)
    await asyncio.sleep(DELAY + 3 * POLL)  # attempts fail; the unread notice comes of age
    await customer.close()
    first.kill()

    await receiver.start()
    try:
        spawn_server(**webhook_env(receiver))  # takes over once the dead node's lease ran out
        await receiver.wait(chat_created(message["chatId"]))
        [notice] = await receiver.wait(unread_for(vendor_id))
        assert chat_counts(notice) == {message["chatId"]: 1}
    finally:
        await receiver.stop()


@ON_SQLITE
async def test_no_notice_for_a_message_read_in_time(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    # A longer delay here: the vendor must connect and read well within it, even on a
    # busy machine.
    node = spawn_server(**webhook_env(receiver, SLYCHAT_UNREAD_DELAY=f"{SLOW_DELAY}s"))
    customer = await online(clients, node, "customer")
    vendor_id = next_id()
    read = await send(customer, f"p-{next_id()}", vendor_id, "Read me", new=True)
    vendor = await online(clients, node, "vendor", vendor_id)
    ack = await vendor.call("markAsRead", {"chatId": read["chatId"]})
    assert ack.get("error") is False, ack
    await vendor.close()
    # The vendor has been away for the delay when this one comes of age, so the read
    # message would be in its notice if it were still due.
    unread = await send(customer, f"p-{next_id()}", vendor_id, "But not me", new=True)
    [notice] = await receiver.wait(unread_for(vendor_id))
    assert chat_counts(notice) == {unread["chatId"]: 1}


async def test_no_notice_for_a_chat_its_recipient_muted(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    node = spawn_server(**webhook_env(receiver, SLYCHAT_UNREAD_DELAY=f"{SLOW_DELAY}s"))
    customer = await online(clients, node, "customer")
    vendor_id, product = next_id(), f"p-{next_id()}"
    muted = await send(customer, product, vendor_id, "Muted chat", new=True)
    vendor = await online(clients, node, "vendor", vendor_id)
    ack = await vendor.call("updateChatSettings", {"chatId": muted["chatId"], "muted": True})
    assert ack.get("error") is False, ack
    await vendor.close()
    # Both unread and of age together: one scan sees them, and reports the loud one only.
    await send(customer, product, vendor_id, "More in the muted chat")
    loud = await send(customer, f"p-{next_id()}", vendor_id, "Loud chat", new=True)
    [notice] = await receiver.wait(unread_for(vendor_id))
    # Only the chat the vendor did not mute: the muted one's messages are unread, unnoticed.
    assert chat_counts(notice) == {loud["chatId"]: 1}


@ON_SQLITE
async def test_no_notice_when_the_recipient_came_online_in_time(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    node = spawn_server(**webhook_env(receiver, SLYCHAT_UNREAD_DELAY=f"{SLOW_DELAY}s"))
    customer = await online(clients, node, "customer")
    vendor_id, away_id = next_id(), next_id()
    await send(customer, f"p-{next_id()}", vendor_id, "You will see this", new=True)
    await online(clients, node, "vendor", vendor_id)  # within the delay
    await asyncio.sleep(SLOW_DELAY)
    # A later message to an away vendor: its notice comes from a scan that also saw the
    # first message come of age, with its recipient online.
    await send(customer, f"p-{next_id()}", away_id, "Nobody home", new=True)
    await receiver.wait(unread_for(away_id))
    assert receiver.matching(unread_for(vendor_id)) == []


async def test_two_nodes_deliver_each_webhook_once(
    spawn_server: Callable[..., Server],
    receiver: Receiver,
    clients: list[Client],
    redis_url: str,
    redis_prefix: str,
) -> None:
    env = webhook_env(receiver, SLYCHAT_REDIS_URL=redis_url, SLYCHAT_REDIS_PREFIX=redis_prefix)
    a, b = spawn_server(**env), spawn_server(**env)
    customer = await online(clients, a, "customer")
    # Whichever node sends, it sees connections on both nodes through Redis.
    on_a, on_b = await online(clients, a, "vendor"), await online(clients, b, "vendor")
    away_id = next_id()
    chats = [
        (await send(customer, f"p-{next_id()}", v, "Hi", new=True))["chatId"]
        for v in (on_a.id, on_b.id)
    ]
    away_chat = (await send(customer, f"p-{next_id()}", away_id, "Hi", new=True))["chatId"]
    await receiver.wait(unread_for(away_id))
    for chat_id in [*chats, away_chat]:
        await receiver.wait(chat_created(chat_id))
    await asyncio.sleep(DELAY + 5 * POLL)  # time enough for a second sender to show
    ours = receiver.matching(
        lambda body: (
            unread_for(away_id)(body)
            or unread_for(on_a.id)(body)
            or unread_for(on_b.id)(body)
            or any(chat_created(chat_id)(body) for chat_id in [*chats, away_chat])
        )
    )
    assert len(ours) == 4, [(c.json["type"], c.id) for c in ours]
    assert len({c.id for c in ours}) == 4


async def metric_reaches(node: Server, name: str, value: float) -> dict[str, float]:
    """The node's webhook metrics, once `name` is at least `value`."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        metrics = await asyncio.to_thread(_metrics, node)
        if metrics[name] >= value:
            return metrics
        assert asyncio.get_running_loop().time() < deadline, f"{name} stayed at {metrics[name]}"
        await asyncio.sleep(POLL)


def _metrics(node: Server) -> dict[str, float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{node.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("slychat_webhook")
    }


def test_the_readme_receiver_verifies_like_the_docs() -> None:
    """The README's receiver example checks signatures with the very function the docs
    show, which the tests above run against real calls."""
    readme = (ROOT / "README.md").read_text()
    assert verifier_source("docs/webhooks.md") in readme


@ON_SQLITE
async def test_a_chat_opened_through_the_admin_api_is_reported(
    spawn_server: Callable[..., Server], receiver: Receiver, clients: list[Client]
) -> None:
    node = spawn_server(**webhook_env(receiver))
    key = await asyncio.to_thread(create_key, node, "chats:write")
    vendor_id, customer_id = next_id(), next_id()  # neither ever connects
    body = open_body(f"p-{next_id()}", vendor_id, customer_id)
    response = await admin(node, "POST", "/api/v1/admin/chats", key, json=body)
    assert response.status_code == 201, response.text
    chat_id = response.json()["data"]["id"]
    [created] = await receiver.wait(chat_created(chat_id))
    assert created.json["data"]["chat"]["customerId"] == customer_id
    check_documented(created.headers, created.body)

    # A SYSTEM notice is unread to nobody: no message.unread for either side.
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    posted = await admin(node, "POST", path, key, json={"text": "Order #123 shipped"})
    assert posted.status_code in (200, 201), posted.text
    customer, away_id = await online(clients, node, "customer"), next_id()
    await asyncio.sleep(DELAY)
    await send(customer, f"p-{next_id()}", away_id, "Marker", new=True)
    await receiver.wait(unread_for(away_id))  # a scan that saw the notice come of age
    assert receiver.matching(unread_for(vendor_id)) == []
    assert receiver.matching(unread_for(customer_id, "CUSTOMER")) == []
