"""Block across two nodes (Redis, PostgreSQL): a block made on one node is in force on the
other at once (its cache hears it on `<prefix>:blocks`), and so is its lifting; a node
that missed the notice reads it within SLYCHAT_REVOCATION_POLL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.dbcheck import chat_state, execute
from tests.e2e.media_support import File, upload
from tests.e2e.test_multinode import TTL, nodes, on  # noqa: F401  (fixtures)
from tests.media_files import png
from tests.support import ON_POSTGRES, Client, Server, next_id
from tests.support.chat import ok, presence_of, send

QUIET = 0.3


def refused(ack: dict[str, object], status: int) -> None:
    assert ack.get("error") is True, ack
    assert ack.get("statusCode") == status, ack


@ON_POSTGRES
async def test_a_block_on_one_node_is_in_force_on_the_other_at_once(
    nodes: list[Server],  # noqa: F811
    on: Callable[..., Any],  # noqa: F811
) -> None:
    a, b = nodes
    customer = await on(a, "customer")
    customer_on_b = await on(b, "customer", customer.id)
    vendor = await on(b, "vendor")
    vendor_on_a = await on(a, "vendor", vendor.id)
    product = f"p-{next_id()}"
    first = await send(customer, product, vendor.id, "Is it blue?", new=True)
    await vendor.wait("newChat")
    to_customer = {"productId": product, "recipientId": customer.id}

    ack = await customer.call("blockUser", {"userId": vendor.id, "userType": "VENDOR"})
    assert ok(ack)["blocked"] is True
    # At once on the other node: no wait between the ack and these.
    refused(await vendor.call("sendMessage", to_customer | {"text": "Hello?"}), 403)
    refused(await vendor.call("typing", to_customer), 403)
    refused(await vendor.call("addReaction", {"messageId": first["id"], "emoji": "👍"}), 403)
    status = ok(await presence_of(vendor, customer.id, "CUSTOMER"))
    assert (status["status"], status["lastSeen"]) == ("offline", None)
    answer = await upload(
        b,
        "send-image",
        [File(png(), "a.png", "image/png")],
        role="vendor",
        user_id=vendor.id,
        recipient_id=customer.id,
        product_id=product,
    )
    assert answer.status_code == 403, answer.text
    # The blocker's socket on the other node hears the list, and lists the chat blocked.
    assert ok(await customer_on_b.wait("blockedUsers"))[0]["userId"] == vendor.id
    chats = ok(await customer_on_b.request("getUserChats", {}, "userChats"))
    assert [c["blocked"] for c in chats if c["id"] == first["chatId"]] == [True]
    vendor_chats = ok(await vendor.request("getUserChats", {}, "userChats"))
    assert [c["blocked"] for c in vendor_chats if c["id"] == first["chatId"]] == [False]

    # Lifted on node B, in force nowhere at once: the vendor sends through node A.
    ack = await customer_on_b.call("unblockUser", {"userId": vendor.id, "userType": "VENDOR"})
    assert ok(ack)["blocked"] is False
    sent = await send(vendor_on_a, product, customer.id, "Back")
    for x in (customer, customer_on_b):
        await x.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["id"])
    ok(await vendor_on_a.call("typing", to_customer))
    await customer_on_b.wait("userTyping", lambda d: d["data"]["senderId"] == vendor.id)


@ON_POSTGRES
async def test_a_node_that_missed_the_notice_reads_the_block_within_the_poll(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> None:
    """The notice is lost (written straight into the database, as by a node whose
    publish failed): the other node's poll finds it, within SLYCHAT_REVOCATION_POLL."""
    env = {
        "SLYCHAT_REDIS_URL": redis_url,
        "SLYCHAT_REDIS_PREFIX": redis_prefix,
        "SLYCHAT_PRESENCE_TTL": f"{TTL}s",
        "SLYCHAT_REVOCATION_POLL": "0.5s",
    }
    node = Server(server.database_url, env=env).start(log_dir)
    clients: list[Client] = []
    try:
        customer = Client(node.url, "customer", next_id())
        vendor = Client(node.url, "vendor", next_id())
        clients += [customer, vendor]
        for c in clients:
            await (await c.connect()).ready()
        product = f"p-{next_id()}"
        first = await send(customer, product, vendor.id, "Hi", new=True)
        before = await chat_state(node.database_url, first["chatId"])
        now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint"
        await execute(
            node.database_url,
            "INSERT INTO blocks (blocker_type, blocker_id, blocked_type, blocked_id, "
            f"blocked_at, unblocked_at, changed_at) VALUES ('CUSTOMER', {customer.id}, "
            f"'VENDOR', {vendor.id}, {now}, NULL, {now})",
        )
        to_customer = {"productId": product, "recipientId": customer.id}
        for _ in range(100):  # the poll comes every 0.5 s
            status = ok(await presence_of(vendor, customer.id, "CUSTOMER"))
            if status["status"] == "offline":
                break
            await asyncio.sleep(0.1)
        assert status["lastSeen"] is None
        refused(await vendor.call("typing", to_customer), 403)
        refused(await vendor.call("sendMessage", to_customer | {"text": "x"}), 403)
        assert await chat_state(node.database_url, first["chatId"]) == before
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        node.stop()
