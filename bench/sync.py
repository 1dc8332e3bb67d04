"""Catching up: a client away for 1,000 messages across 20 chats reconnects with its cursor."""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.common import Report, backend_available, database, ready_client, running
from tests.support import Client, new_chat_fields, token

AWAY_MESSAGES = 1_000
CHATS = 20


async def _one_run(url: str, vendor_id: int, cursor: str) -> tuple[float, float]:
    """Milliseconds from the reconnect to the last page of changes (checking that all
    arrived), and of a full `getUserChats` reload of the same chats, for reference."""
    vendor = Client(url, "vendor", vendor_id)
    start = time.perf_counter()
    try:
        await vendor.connect(auth={"token": token("vendor", vendor_id), "syncCursor": cursor})
        got = 0
        page = (await vendor.wait("syncMessages", timeout=60))["data"]
        while True:
            got += sum(1 for c in page["changes"] if c["type"] == "message")
            if not page["hasMore"]:
                break
            page = (await vendor.call("syncMessages", {"since": page["syncCursor"]}))["data"]
        elapsed = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        await vendor.call("getUserChats")
        reload = (time.perf_counter() - start) * 1000
    finally:
        await vendor.close()
    if got != AWAY_MESSAGES:
        raise RuntimeError(f"sync returned {got} messages, expected {AWAY_MESSAGES}")
    return elapsed, reload


async def run(report: Report, backends: list[str], runs: int) -> None:
    report.add(
        f"## Sync after reconnect\n\nA vendor is away while {CHATS} customers send "
        f"{AWAY_MESSAGES:,} messages ({AWAY_MESSAGES // CHATS} each); it reconnects "
        "with `auth.syncCursor` and pages through `syncMessages` until `hasMore` is "
        f"false (the connect included). Median of {runs} runs; the reference is a full "
        "`getUserChats` reload of the same 20 chats and 1,000 messages, in the same session.\n"
    )
    rows = []
    for backend in backends:
        why = await backend_available(backend)
        if why:
            rows.append([backend, "skipped", why, ""])
            continue
        async with database(backend) as db_url:
            with running(db_url) as server:
                latencies, reference = [], []
                for run_no in range(runs + 1):
                    vendor_id = 5_000_000 + run_no
                    vendor = await ready_client(server.url, "vendor", vendor_id)
                    cursor = vendor.last("userChats")["syncCursor"]
                    await vendor.close()
                    customers = [
                        await ready_client(server.url, "customer", vendor_id * 100 + i)
                        for i in range(CHATS)
                    ]

                    async def send(c: Client, vendor_id: int = vendor_id) -> None:
                        for n in range(AWAY_MESSAGES // CHATS):
                            extra = new_chat_fields() if n == 0 else {}
                            await c.call(
                                "sendMessage",
                                {
                                    "productId": f"s{c.id}",
                                    "recipientId": vendor_id,
                                    "text": f"away {n}",
                                    **extra,
                                },
                            )

                    await asyncio.gather(*(send(c) for c in customers))
                    for c in customers:
                        await c.close()
                    latency, reload = await _one_run(server.url, vendor_id, cursor)
                    if run_no:  # the first run warms up
                        latencies.append(latency)
                        reference.append(reload)
                median = statistics.median(latencies)
                ref = statistics.median(reference)
                rows.append([backend, f"{median:.0f}", f"{ref:.1f}", f"{median / ref:.1f}"])
    report.table(
        [
            "backend",
            "reconnect + sync of 1,000 messages, ms",
            "getUserChats reload, ms",
            "sync / reload",
        ],
        rows,
    )
