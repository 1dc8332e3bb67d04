"""One client floods the server with events as fast as it can while two other users chat:
the flooder is refused (429), the others' messages all arrive, and their latency is
printed (`pytest -s`; nothing is asserted about time)."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.dbcheck import query
from tests.support import ROOT, Client, Server, new_chat_fields, next_id, token

FLOOD = 10_000  # events the flooder emits
CHAT = 40  # messages each of the two users sends
SPACING = 0.1  # seconds between two messages of one user: 10/s, their limit
DEFAULT_RATES = {  # the production defaults, not the test suite's generous ones
    "SLYCHAT_RATE_MESSAGES": "10/s:20",
    "SLYCHAT_RATE_TYPING": "2/s:4",
    "SLYCHAT_RATE_UPLOADS": "4/m:4",
    "SLYCHAT_RATE_NEW_CHATS": "20/h:20",
    "SLYCHAT_RATE_EVENTS": "30/s:60",
}


def track_arrivals(client: Client, arrived: dict[str, float]) -> None:
    """When each message from the other party reached `client` (its own copies aside)."""

    async def on_message(body: Any) -> None:
        for m in body["data"]:
            if m["senderId"] != client.id and m["text"].startswith("chat "):
                arrived.setdefault(m["text"], time.monotonic())

    client.sio.on("receiveMessage", on_message, namespace="/chat")


async def chat(sender: Client, to: dict[str, Any], sent: dict[str, float]) -> list[Any]:
    calls = []
    for i in range(CHAT):
        text = f"chat {sender.role} {i}"
        sent[text] = time.monotonic()
        calls.append(asyncio.create_task(sender.call("sendMessage", to | {"text": text})))
        await asyncio.sleep(SPACING)
    return list(await asyncio.gather(*calls))


async def test_a_flooder_is_refused_while_two_others_chat_unharmed(
    spawn_server: Callable[..., Server],
) -> None:
    srv = spawn_server(**DEFAULT_RATES)
    customer = await (await Client(srv.url, "customer", next_id()).connect()).ready()
    vendor = await (await Client(srv.url, "vendor", next_id()).connect()).ready()
    product = f"p-{next_id()}"
    first = {"productId": product, "recipientId": vendor.id, "text": "hi"} | new_chat_fields()
    assert (await customer.call("sendMessage", first))["error"] is False
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    track_arrivals(customer, arrived)
    track_arrivals(vendor, arrived)

    flooder_id = next_id()
    flooder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.flooder",
        srv.url,
        token("customer", flooder_id),
        str(vendor.id),  # the flooder targets one of the two
        str(FLOOD),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert flooder.stdout is not None
        async with asyncio.timeout(30):
            assert (await flooder.stdout.readline()).strip() == b"go"
        started = time.monotonic()
        acks = await asyncio.gather(
            chat(customer, {"productId": product, "recipientId": vendor.id}, sent),
            chat(vendor, {"productId": product, "recipientId": customer.id}, sent),
        )
        async with asyncio.timeout(120):
            flood = json.loads(await flooder.stdout.readline())
        elapsed = time.monotonic() - started
        for _ in range(100):  # the last messages may still be on their way
            if len(arrived) == len(sent):
                break
            await asyncio.sleep(0.05)
    finally:
        if flooder.returncode is None:
            flooder.kill()
        await flooder.wait()
        await customer.close()
        await vendor.close()

    assert all(a["error"] is False for a in acks[0] + acks[1])
    assert sorted(arrived) == sorted(sent), "a message of the two users did not arrive"
    assert flood["refused"] > 0, flood
    stored = await query(
        srv.database_url,
        "SELECT count(*) AS n FROM messages WHERE sender_id = :f AND sender_type = 'CUSTOMER'",
        f=flooder_id,
    )
    # The burst, and what the bucket refilled while the flood lasted.
    assert stored[0].n <= 20 + 10 * elapsed + 1, (stored[0].n, elapsed)

    latencies = sorted((arrived[t] - sent[t]) * 1000 for t in sent)
    print(
        f"\nflood: {flood['sent']} events sent, {flood['refused']} refused with 429, "
        f"{stored[0].n} stored, flooder disconnected: {flood['disconnected']}; "
        f"the two users' {len(latencies)} messages: median "
        f"{statistics.median(latencies):.1f} ms, p90 {latencies[int(len(latencies) * 0.9)]:.1f}"
        f" ms, max {latencies[-1]:.1f} ms"
    )
