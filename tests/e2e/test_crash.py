"""A server killed with SIGKILL mid-load loses no acknowledged message."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from tests.dbcheck import query
from tests.support import Client, Server, new_chat_fields, next_id, token


async def test_acked_messages_survive_sigkill_and_resync_matches_storage(
    server: Server, spawn_server: Callable[..., Server]
) -> None:
    doomed = spawn_server()
    vendor_id = next_id()
    vendor = Client(doomed.url, "vendor", vendor_id)
    await (await vendor.connect()).ready()
    start_cursor = vendor.last("userChats")["syncCursor"]
    await vendor.close()

    senders = [Client(doomed.url, "customer", next_id()) for _ in range(4)]
    for s in senders:
        await (await s.connect()).ready()
    acked: dict[str, str] = {}  # clientMessageId -> message id
    loaded = asyncio.Event()
    attempted: list[tuple[Client, str]] = []

    async def load(n: int, sender: Client) -> None:
        for i in range(10_000):
            cid = f"crash-{n}-{i}"
            attempted.append((sender, cid))
            ack = await sender.call(
                "sendMessage",
                {
                    "productId": f"crash-{vendor_id}-{n}",
                    "recipientId": vendor_id,
                    "text": cid,
                    "clientMessageId": cid,
                    **new_chat_fields(),
                },
                timeout=3,
            )
            acked[cid] = ack["data"]["id"]
            if len(acked) >= 40:
                loaded.set()

    tasks = [asyncio.create_task(load(n, s)) for n, s in enumerate(senders)]
    async with asyncio.timeout(30):
        await loaded.wait()
    doomed.kill()
    for task in tasks:
        with contextlib.suppress(Exception):
            await task
    for s in senders:
        await s.close()

    stored = {
        r.client_message_id: r.id
        for r in await query(
            server.database_url,
            "SELECT m.id, m.client_message_id FROM messages m JOIN chats c ON c.id = m.chat_id "
            "WHERE c.vendor_id = :v",
            v=vendor_id,
        )
    }
    assert all(stored.get(cid) == mid for cid, mid in acked.items()), "an acked message is lost"

    # Clients retry what was never acked; nothing is stored twice.
    restarted = spawn_server()
    again = {s.id: Client(restarted.url, "customer", s.id) for s in senders}
    for s in again.values():
        await (await s.connect()).ready()
    for sender, cid in attempted:
        if cid not in acked:
            n = cid.split("-")[1]
            ack = await again[sender.id].call(
                "sendMessage",
                {
                    "productId": f"crash-{vendor_id}-{n}",
                    "recipientId": vendor_id,
                    "text": cid,
                    "clientMessageId": cid,
                    **new_chat_fields(),
                },
            )
            acked[cid] = ack["data"]["id"]
    rows = await query(
        server.database_url,
        "SELECT m.id, m.client_message_id FROM messages m JOIN chats c ON c.id = m.chat_id "
        "WHERE c.vendor_id = :v",
        v=vendor_id,
    )
    assert sorted(r.client_message_id for r in rows) == sorted(acked)
    assert {r.id for r in rows} == set(acked.values())

    # The vendor re-syncs from before the load and reaches exactly the stored state.
    vendor = Client(restarted.url, "vendor", vendor_id)
    try:
        await vendor.connect(auth={"token": token("vendor", vendor_id), "syncCursor": start_cursor})
        synced: list[str] = []
        page = (await vendor.wait("syncMessages"))["data"]
        while True:
            synced += [c["message"]["id"] for c in page["changes"] if c["type"] == "message"]
            if not page["hasMore"]:
                break
            page = (await vendor.request("syncMessages", {"since": page["syncCursor"]}))["data"]
    finally:
        await vendor.close()
        for s in again.values():
            await s.close()
    assert len(synced) == len(set(synced))
    assert set(synced) == {r.id for r in rows}
