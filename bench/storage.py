"""Storage at scale: the queries behind the events, on a large seed and a small reference."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, backend_available, database, median_ms, ready_client, running
from bench.seed import Seeded, seed
from slychat.domain.identity import Role, User
from slychat.storage import repository as repo
from tests.support import new_chat_fields


async def measure(url: str, s: Seeded, runs: int) -> dict[str, float]:
    """Median ack round trips of the events, and insert throughput, against a real server."""
    with running(url) as server:
        vendor = await ready_client(server.url, "vendor", s.vendor_id)
        engine = create_async_engine(url)
        try:
            figures = {
                "getUserChats (vendor, 500 chats), ms": await median_ms(
                    lambda: vendor.call("getUserChats"), runs
                ),
                "joinChat (10,000 messages, first page), ms": await median_ms(
                    lambda: vendor.call("joinChat", {"chatId": s.big_chat}), runs
                ),
            }

            elapsed = []
            for _ in range(runs + 1):  # the first is a warm-up
                async with engine.begin() as conn:  # markAsRead consumes them: unread again
                    await conn.execute(
                        text("UPDATE messages SET read = false, read_at = NULL WHERE chat_id = :c"),
                        {"c": s.unread_chat},
                    )
                start = time.perf_counter()
                ack = await vendor.call("markAsRead", {"chatId": s.unread_chat})
                elapsed.append((time.perf_counter() - start) * 1000)
                assert len(ack["data"]["messageIds"]) == s.unread, ack
            figures["markAsRead (1,000 unread), ms"] = statistics.median(elapsed[1:])
            figures["sendMessage throughput, msgs/s"] = await _throughput(server.url, s)
        finally:
            await vendor.close()
            await engine.dispose()
    return figures


async def _throughput(url: str, s: Seeded, senders: int = 20, each: int = 50) -> float:
    customers = [await ready_client(url, "customer", 9_000_000 + i) for i in range(senders)]
    try:
        for c in customers:  # open the chats first: the figure is for ordinary sends
            await c.call(
                "sendMessage",
                {
                    "productId": f"t{c.id}",
                    "recipientId": s.vendor_id,
                    "text": "hi",
                    **new_chat_fields(),
                },
            )

        async def burst(c: Any) -> None:
            for i in range(each):
                ack = await c.call(
                    "sendMessage",
                    {"productId": f"t{c.id}", "recipientId": s.vendor_id, "text": f"m{i}"},
                )
                assert ack["error"] is False, ack

        start = time.perf_counter()
        await asyncio.gather(*(burst(c) for c in customers))
        return senders * each / (time.perf_counter() - start)
    finally:
        for c in customers:
            await c.close()


def _statements(s: Seeded) -> dict[str, Any]:
    """The statements the repository executes for each measured event (a statement, or a
    prebuilt statement and the values it binds)."""
    vendor = User(Role.VENDOR, s.vendor_id)
    page = repo.page_query(s.big_chat, None, 51)
    return {
        "getUserChats: list chats": repo.list_chats_query(vendor, None, 50),
        "getUserChats: latest page per chat": page,
        "getUserChats: unread counts": repo.unread_counts_query(
            [s.big_chat, s.unread_chat], vendor
        ),
        "getUserChats: total unread": repo.total_unread_query(vendor),
        "joinChat: message page": page,
        "markAsRead: update unread": repo.mark_read_statement(s.unread_chat, vendor, 0),
        "offlineMessages: undelivered": repo.undelivered_query(vendor, 501),
    }


async def explain(url: str, s: Seeded) -> list[tuple[str, str, bool]]:
    """(name, plan, scans all messages?) for each statement."""
    engine = create_async_engine(url)
    pg = url.startswith("postgresql")
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
    plans = []
    try:
        for name, entry in _statements(s).items():
            stmt, values = entry if isinstance(entry, tuple) else (entry, {})
            async with engine.connect() as conn:
                # Compiled by the engine's own dialect, with its positional parameters, so
                # each statement is explained exactly as the server runs it.
                compiled = stmt.compile(
                    dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
                )
                bound = compiled.params | values
                params = tuple(bound[key] for key in compiled.positiontup or ())
                rows = (await conn.exec_driver_sql(prefix + str(compiled), params)).all()
                await conn.rollback()  # ANALYZE runs the UPDATEs: undo them
            plan = "\n".join(str(r[0] if pg else r[-1]) for r in rows)
            full_scan = (
                ("Seq Scan on messages" in plan)
                if pg
                else any(line.strip().startswith("SCAN messages") for line in plan.splitlines())
            )
            plans.append((name, plan, full_scan))
    finally:
        await engine.dispose()
    return plans


async def run(report: Report, backends: list[str], sizes: dict[str, int], runs: int) -> None:
    # The reference keeps the measured vendor and chats as they are and shrinks the rest.
    small = dict(sizes)
    small["total_chats"] = max(sizes["total_chats"] // 20, sizes["vendor_chats"] + 2)
    small["total_messages"] = sizes["total_messages"] // 20
    report.add(
        f"## Storage at scale\n\nLarge seed: {sizes['total_messages']:,} messages in "
        f"{sizes['total_chats']:,} chats; reference seed: {small['total_messages']:,} "
        f"in {small['total_chats']:,} (1/20), measured in the same session. The vendor "
        f"has {sizes['vendor_chats']} chats, one chat has "
        f"{sizes['big_chat_messages']:,} messages, one has {sizes['unread']:,} unread. "
        f"Figures are medians of {runs} runs; a ratio near 1 means the cost does not "
        "grow with the total number of messages.\n"
    )
    for backend in backends:
        why = await backend_available(backend)
        if why:
            report.add(f"### {backend}: skipped ({why})\n")
            continue
        results = {}
        plans: list[tuple[str, str, bool]] = []
        for label, size in (("reference", small), ("large", sizes)):
            async with database(backend) as url:
                start = time.perf_counter()
                seeded = await seed(url, **size)
                print(
                    f"{backend} {label}: seeded {seeded.messages:,} messages in "
                    f"{time.perf_counter() - start:.0f}s",
                    flush=True,
                )
                if label == "large":  # before markAsRead runs: with its unread rows
                    plans = await explain(url, seeded)
                results[label] = await measure(url, seeded, runs)
        report.add(f"### {backend}\n")
        rows = []
        for name, value in results["large"].items():
            ref = results["reference"][name]
            rows.append([name, f"{value:.1f}", f"{ref:.1f}", f"{value / ref:.2f}"])
        report.table(["figure", "large seed", "reference seed", "large / reference"], rows)
        report.add("Query plans on the large seed:\n")
        for name, plan, full_scan in plans:
            flag = " **(full scan of messages)**" if full_scan else ""
            report.add(f"- {name}{flag}\n\n```\n{plan}\n```\n")
