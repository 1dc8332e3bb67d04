"""Concurrent writers: one chat per (product, vendor, customer), gap-free `seq`, idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UserFactory
from tests.dbcheck import chat_rows, message_rows
from tests.support import ON_POSTGRES, Client, Server, new_chat_fields, next_id


async def test_simultaneous_first_messages_make_one_chat(
    connect: UserFactory, server: Server
) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"race-{next_id()}"

    acks = await asyncio.gather(
        *(
            customer.call(
                "sendMessage",
                {
                    "productId": product,
                    "recipientId": vendor.id,
                    "text": f"m{i}",
                    **new_chat_fields(),
                },
            )
            for i in range(50)
        )
    )

    assert all(a["error"] is False for a in acks), [a for a in acks if a["error"]]
    assert len({a["data"]["chatId"] for a in acks}) == 1
    assert sorted(a["data"]["seq"] for a in acks) == list(range(1, 51))
    chats = await chat_rows(server.database_url, product)
    assert len(chats) == 1
    stored = await message_rows(server.database_url, chats[0].id)
    assert [m.seq for m in stored] == list(range(1, 51))
    # The sender's own handlers run in order, so emission order is storage order.
    assert [m.text for m in stored] == [f"m{i}" for i in range(50)]
    assert len(vendor.received("newChat")) + len(vendor.received("receiveMessage")) >= 1


async def test_concurrent_retries_store_one_message(connect: UserFactory, server: Server) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    tab = await connect("customer", customer.id)
    product = f"retry-{next_id()}"
    await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "hello", **new_chat_fields()},
    )
    payload = {
        "productId": product,
        "recipientId": vendor.id,
        "text": "once",
        "clientMessageId": "c-1",
    }

    acks = await asyncio.gather(
        *(c.call("sendMessage", payload) for _ in range(10) for c in (customer, tab))
    )

    assert len({a["data"]["id"] for a in acks}) == 1
    assert {a["data"]["clientMessageId"] for a in acks} == {"c-1"}
    chat_id = acks[0]["data"]["chatId"]
    texts = [m.text for m in await message_rows(server.database_url, chat_id)]
    assert texts == ["hello", "once"]
    await asyncio.sleep(0.3)
    assert [d["data"][0]["text"] for d in vendor.received("receiveMessage")] == ["once"]


@pytest.fixture
def four_nodes(server: Server, log_dir: Path) -> Iterator[list[Server]]:
    """Three more server processes on the same database as `server`."""
    nodes = [server] + [Server(server.database_url).start(log_dir) for _ in range(3)]
    yield nodes
    for node in nodes[1:]:
        node.stop()


# Several processes writing one database is the PostgreSQL deployment.
@ON_POSTGRES
async def test_four_processes_write_one_chat(four_nodes: list[Server], server: Server) -> None:
    vendor_id, customer_id = next_id(), next_id()
    product = f"multi-{next_id()}"
    clients = [Client(node.url, "customer", customer_id) for node in four_nodes]
    vendor = Client(server.url, "vendor", vendor_id)
    try:
        for c in (*clients, vendor):
            await (await c.connect()).ready()

        async def burst(node: int, client: Client) -> list[Any]:
            acks: list[Any] = await asyncio.gather(
                *(
                    client.call(
                        "sendMessage",
                        {
                            "productId": product,
                            "recipientId": vendor_id,
                            "text": f"n{node}-{i}",
                            "clientMessageId": f"n{node}-{i}",
                            **new_chat_fields(),
                        },
                    )
                    for i in range(50)
                )
            )
            return acks

        results = await asyncio.gather(*(burst(n, c) for n, c in enumerate(clients)))
        # Every message is retried once on another node: the retry must not store twice.
        retries = await asyncio.gather(
            *(
                clients[(n + 1) % 4].call(
                    "sendMessage",
                    {
                        "productId": product,
                        "recipientId": vendor_id,
                        "text": f"n{n}-{i}",
                        "clientMessageId": f"n{n}-{i}",
                    },
                )
                for n in range(4)
                for i in range(0, 50, 5)
            )
        )
    finally:
        await asyncio.gather(*(c.close() for c in (*clients, vendor)))

    acks = [a for node in results for a in node]
    assert all(a["error"] is False for a in acks)
    chats = await chat_rows(server.database_url, product)
    assert len(chats) == 1
    stored = await message_rows(server.database_url, chats[0].id)
    assert [m.seq for m in stored] == list(range(1, 201))
    assert len({m.client_message_id for m in stored}) == 200
    by_client_id = {a["data"]["clientMessageId"]: a["data"]["id"] for a in acks}
    assert all(r["data"]["id"] == by_client_id[r["data"]["clientMessageId"]] for r in retries)
