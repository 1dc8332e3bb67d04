"""A vendor with 20,000 chats against one with 200, in one big database, through the server.

What a user's connect and chat list cost must not grow with how many chats they have (nor
with the whole database), or a big vendor's connect holds everyone else up. One seed per
engine: 100,000 chats and 2,000,000 messages (`--quick`: a tenth), among them a big vendor
with 20,000 chats and a small one with 200 (`--quick`: 2,000 and 200), each chat of theirs
with 5 messages, and in each vendor's 10 newest chats one unread and undelivered message:
both get the same `offlineMessages` and the same first page, so that what differs is how
many chats stand behind it. Written in the project's own schema (`bench.seed.bulk_write`)
and read back through a server on it, as the server's own data. SQLite is left
unanalyzed, as the server leaves it; PostgreSQL is analyzed, as autovacuum would.

Figures, medians of `runs` alternating connects:
- connect: from the websocket's open to `offlineMessages` (the /chat handshake: chat list,
  offline messages, the online notice to every counterpart);
- getUserChats, first page and the page after, by its ack;
- the slowest reply an unrelated client got while each vendor connected (it asks for its
  own chat list in a loop);
- the server's start on the big database against an empty one.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, backend_available, database, running
from bench.seed import CHAT_COLUMNS, MESSAGE_COLUMNS, bulk_write
from slychat.storage.migrate import upgrade
from tests.support import Client, Server

BIG, SMALL, PROBE = 1, 2, 99_999_999
PER_CHAT = 5
AWAITING = 10  # each vendor's newest chats with an unread, undelivered message


@dataclass(frozen=True)
class Sizes:
    chats: int
    messages: int
    big_chats: int
    small_chats: int


FULL = Sizes(chats=100_000, messages=2_000_000, big_chats=20_000, small_chats=200)
QUICK = Sizes(chats=10_000, messages=200_000, big_chats=2_000, small_chats=200)


def _rows(size: Sizes) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Chat and message rows in CHAT_COLUMNS and MESSAGE_COLUMNS order."""
    rng = random.Random(25)
    start = 1_700_000_000_000
    vendors = [BIG] * size.big_chats + [SMALL] * size.small_chats
    others = size.chats - len(vendors)
    vendors += [100 + i % 2_000 for i in range(others)]
    own = PER_CHAT * (size.big_chats + size.small_chats)
    rest = max(1, (size.messages - own) // max(1, others))
    heads: dict[tuple[str, int], int] = {}

    def position(side: str, user: int) -> int:
        heads[side, user] = heads.get((side, user), 0) + 1
        return heads[side, user]

    chat_rows: list[tuple[Any, ...]] = []
    message_rows: list[tuple[Any, ...]] = []
    at = start
    # Oldest chats first: each vendor's last AWAITING chats are its newest.
    for i, vendor in enumerate(vendors):
        customer = 1_000_000 + i
        chat_id = f"a{i:023x}"
        measured = vendor in (BIG, SMALL)
        count = PER_CHAT if measured else rest
        newest = measured and (
            (vendor == BIG and i >= size.big_chats - AWAITING)
            or (vendor == SMALL and i >= size.big_chats + size.small_chats - AWAITING)
        )
        for seq in range(1, count + 1):
            at += 10
            last = seq == count
            # A measured chat ends with the customer's message; others are random.
            from_customer = (last or seq % 2 == 1) if measured else rng.random() < 0.5
            waiting = (newest and last) if measured else rng.random() < 0.02
            unread = waiting or (not measured and rng.random() < 0.05)
            row = {
                "id": f"b{len(message_rows):023x}", "chat_id": chat_id, "seq": seq,
                "sender_id": customer if from_customer else vendor,
                "sender_type": "CUSTOMER" if from_customer else "VENDOR",
                "text": f"message {seq}", "client_message_id": None, "created_at": at,
                "recipient_online": not waiting, "read": not unread,
                "read_at": None if unread else at, "delivered_at": None if waiting else at,
                "deleted_at": None, "customer_id": customer, "vendor_id": vendor,
                "customer_pos": position("c", customer), "vendor_pos": position("v", vendor),
                "media_count": 0,
            }  # fmt: skip
            message_rows.append(tuple(row[c] for c in MESSAGE_COLUMNS))
        chat = {
            "id": chat_id, "product_id": f"p{i}", "vendor_id": vendor, "customer_id": customer,
            "product_image_url": None, "product_price": None, "product_name": "Product",
            "store_logo_url": None, "customer_profile_pic": None, "customer_name": "Buyer",
            "store_name": "Store", "last_seq": count, "last_message_at": at,
            "created_at": start, "updated_at": at,
        }  # fmt: skip
        chat_rows.append(tuple(chat[c] for c in CHAT_COLUMNS))
    return chat_rows, message_rows


async def _probe(
    url: str, answering: asyncio.Event, stop: asyncio.Event, replies: list[float]
) -> None:
    """An unrelated customer asking for its own (empty) chat list, as fast as answered."""
    client = await Client(url, "customer", PROBE).connect()
    try:
        await client.ready()
        answering.set()
        while not stop.is_set():
            started = time.perf_counter()
            await client.call("getUserChats")
            replies.append((time.perf_counter() - started) * 1000)
    finally:
        await client.close()


async def _connect(url: str, vendor: int) -> dict[str, float]:
    """One connect of `vendor`, its two first pages, and the probe's slowest reply meanwhile."""
    answering, stop = asyncio.Event(), asyncio.Event()
    replies: list[float] = []
    probe = asyncio.create_task(_probe(url, answering, stop, replies))
    await answering.wait()  # the probe is answering before the vendor comes
    mark = len(replies)
    started = time.perf_counter()
    client = await Client(url, "vendor", vendor).connect()
    try:
        await client.ready()
        connected = (time.perf_counter() - started) * 1000
        offline = client.last("offlineMessages")
        assert len(offline["data"]) == AWAITING, offline
        during = max(replies[mark:], default=0.0)
        began = time.perf_counter()
        first = await client.call("getUserChats")
        first_ms = (time.perf_counter() - began) * 1000
        assert first["data"]["count"] == 50, first
        assert first["data"]["hasMore"], first
        page = client.last("userChats")["data"]
        began = time.perf_counter()
        second = await client.call("getUserChats", {"before": page[-1]["id"]})
        second_ms = (time.perf_counter() - began) * 1000
        assert second["data"]["count"] == 50, second
    finally:
        await client.close()
        stop.set()
        await probe
    return {
        "connect, ms": connected,
        "getUserChats first page, ms": first_ms,
        "getUserChats next page, ms": second_ms,
        "slowest reply to another client meanwhile, ms": during,
    }


def _start_ms(database_url: str) -> float:
    server = Server(database_url, env={"SLYCHAT_LOG_LEVEL": "error"})
    with tempfile.TemporaryDirectory() as logs:
        started = time.perf_counter()
        server.start(Path(logs))
        elapsed = (time.perf_counter() - started) * 1000
        server.stop()
    return elapsed


# A connect delivers the vendor's offline messages: undelivered again before the next one.
# (Its unread messages are exactly those: nothing here marks them read.)
_UNDELIVER = text(
    "UPDATE messages SET delivered_at = NULL WHERE vendor_id = :vendor "
    "AND sender_type = 'CUSTOMER' AND read = false"
)


async def _measure(url: str, runs: int) -> dict[str, dict[str, float]]:
    settings = {"SLYCHAT_RATE_LIMITS": "off", "SLYCHAT_PRESENCE_GRACE": "0"}
    taken: dict[int, list[dict[str, float]]] = {BIG: [], SMALL: []}
    engine = create_async_engine(url)
    with running(url, **settings) as server:
        for run in range(runs + 1):  # the first round warms both up
            for vendor in (BIG, SMALL):
                async with engine.begin() as conn:
                    await conn.execute(_UNDELIVER, {"vendor": vendor})
                figures = await _connect(server.url, vendor)
                if run:
                    taken[vendor].append(figures)
                await asyncio.sleep(0.2)  # its offline notice goes out
    await engine.dispose()
    return {
        name: {str(vendor): statistics.median(f[name] for f in taken[vendor]) for vendor in taken}
        for name in taken[BIG][0]
    }


async def run(report: Report, backends: list[str], quick: bool, runs: int) -> None:
    size = QUICK if quick else FULL
    report.add(
        f"## A vendor with {size.big_chats:,} chats and one with {size.small_chats:,}\n\n"
        f"One database of {size.chats:,} chats and about {size.messages:,} messages per "
        f"engine; each vendor's chats hold {PER_CHAT} messages and each gets the same "
        f"{AWAITING} offline messages and first page. Medians of {runs} alternating "
        "connects through a server on it (bench/big_vendor.py says how it is seeded).\n"
    )
    chat_rows, message_rows = _rows(size)
    for backend in backends:
        why = await backend_available(backend)
        if why:
            report.add(f"### {backend}: skipped ({why})\n")
            continue
        async with database(backend) as url, database(backend) as empty:
            await asyncio.to_thread(upgrade, url)
            started = time.perf_counter()
            await bulk_write(url, chat_rows, message_rows, analyze_sqlite=False)
            seeded = time.perf_counter() - started
            print(f"{backend}: seeded {len(message_rows):,} messages in {seeded:.0f}s", flush=True)
            figures = await _measure(url, runs)
            await asyncio.to_thread(upgrade, empty)
            starts = {}
            for label, where in (("big", url), ("empty", empty)):
                taken = [await asyncio.to_thread(_start_ms, where) for _ in range(3)]
                starts[label] = statistics.median(taken)
        report.add(f"### {backend}\n")
        rows = []
        for name, by_vendor in figures.items():
            big, small = by_vendor[str(BIG)], by_vendor[str(SMALL)]
            rows.append([name, f"{big:.1f}", f"{small:.1f}", f"{big / small:.2f}"])
        report.table(
            ["figure", f"{size.big_chats:,} chats", f"{size.small_chats:,} chats", "ratio"], rows
        )
        report.add(
            f"Server start to a healthy process: {starts['big']:.0f} ms on this database, "
            f"{starts['empty']:.0f} ms on an empty one (medians of 3).\n"
        )
        report.data.setdefault("big_vendor", {})[backend] = {
            "figures": figures,
            "start_ms": starts,
            "seed_s": seeded,
        }
