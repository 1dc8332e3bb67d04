"""Search at scale: searchMessages' query over one user's chats holding N messages.

One vendor has `chats` chats holding `messages` messages between them (plus a tenth as
many in other users' chats, which the scoping must pass over); texts are 3 to 14 words
drawn from a Zipf-like vocabulary (a few words in most messages, most words rare), some
with accents. The rows are written in bulk (sqlite3's executemany; asyncpg's COPY) with
the search index kept in each batch's transaction, as the send path keeps it; then each
query kind runs `runs` times through `SearchService.search` (the service the event and
the route call: query, scoping join, paging, decoding), and the report gives p50 and p95
per kind, with the engine's plan of the common-word query.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

from bench.common import Report, backend_available, database
from bench.seed import CHAT_COLUMNS, MESSAGE_COLUMNS, bulk_write
from slychat.domain.identity import Role, User
from slychat.services.search import SearchPosition, SearchService, words_of
from slychat.storage import search as index
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade

VENDOR = 1
BATCH = 50_000
# The vocabulary: a few very common words, then a long tail (rank r drawn ~ 1/r).
_COMMON = ["hello", "the", "is", "price", "size", "available", "thanks", "order", "café", "délai"]


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzéèüñ"
    tail = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(size)}
    return _COMMON + sorted(tail - set(_COMMON))


def _texts(rng: random.Random, vocabulary: list[str], n: int) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    words = rng.choices(vocabulary, weights=weights, k=n * 9)
    out, at = [], 0
    for _ in range(n):
        length = rng.randint(3, 14)
        out.append(" ".join(words[at : at + length]))
        at = (at + length) % (len(words) - 15)
    return out


def _rows(
    n_messages: int, n_chats: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[str]]:
    """(chat rows, message rows, the vocabulary), in CHAT_COLUMNS and MESSAGE_COLUMNS order."""
    rng = random.Random(21)
    vocabulary = _vocabulary(rng)
    start = 1_700_000_000_000
    chat_rows: list[dict[str, Any]] = []
    for i in range(n_chats + max(1, n_chats // 10)):
        vendor = VENDOR if i < n_chats else 100 + i
        chat_rows.append(
            {"id": f"a{i:023x}", "product_id": f"p{i}", "vendor_id": vendor,
             "customer_id": 1_000_000 + i, "product_image_url": None, "product_price": None,
             "product_name": "Product", "store_logo_url": None, "customer_profile_pic": None,
             "customer_name": "Buyer", "store_name": "Store", "last_seq": 0,
             "last_message_at": start, "created_at": start, "updated_at": start}
        )  # fmt: skip
    # Every 11th message is in another user's chat: a tenth as many as the user's.
    total = n_messages * 11 // 10
    texts = _texts(rng, vocabulary, total)
    message_rows: list[tuple[Any, ...]] = []
    strangers_chats = chat_rows[n_chats:]
    heads: dict[tuple[str, int], int] = {}  # each user's feed position, as sends hand out

    def position(side: str, user: int) -> int:
        heads[side, user] = heads.get((side, user), 0) + 1
        return heads[side, user]

    for k in range(total):
        # Messages interleave over the chats in time, as real traffic does.
        others = k % 11 == 10
        chat = strangers_chats[k % len(strangers_chats)] if others else chat_rows[k % n_chats]
        chat["last_seq"] += 1
        customer = rng.random() < 0.5
        at = start + k * 10
        chat["last_message_at"] = at
        row = {
            "id": f"b{k:023x}", "chat_id": chat["id"], "seq": chat["last_seq"],
            "sender_id": chat["customer_id"] if customer else chat["vendor_id"],
            "sender_type": "CUSTOMER" if customer else "VENDOR", "text": texts[k],
            "client_message_id": None, "created_at": at, "recipient_online": True,
            "read": True, "read_at": at, "delivered_at": at, "deleted_at": None,
            "customer_id": chat["customer_id"], "vendor_id": chat["vendor_id"],
            "customer_pos": position("c", chat["customer_id"]),
            "vendor_pos": position("v", chat["vendor_id"]), "media_count": 0,
        }  # fmt: skip
        message_rows.append(tuple(row[c] for c in MESSAGE_COLUMNS))
    chat_tuples = [tuple(c[col] for col in CHAT_COLUMNS) for c in chat_rows]
    return chat_tuples, message_rows, vocabulary


async def _seed(url: str, n_messages: int, n_chats: int) -> list[str]:
    """Write the rows in bulk into a migrated database; the vocabulary."""
    await asyncio.to_thread(upgrade, url)
    chat_rows, message_rows, vocabulary = _rows(n_messages, n_chats)
    await bulk_write(url, chat_rows, message_rows, analyze_sqlite=True)
    return vocabulary


def _kinds(vocabulary: list[str], first_chat: str) -> dict[str, dict[str, Any]]:
    rare, medium = vocabulary[-1], vocabulary[200]
    return {
        "rare word": {"query": rare},
        "medium word": {"query": medium},
        "most common word": {"query": "hello"},
        "two common words": {"query": "price hello"},
        "accented, folded (cafe)": {"query": "CAFE"},
        "3-letter prefix": {"query": "ava"},
        "common word, one chat": {"query": "hello", "chat_id": first_chat},
        "common word, second page": {"query": "hello", "second_page": True},
    }


async def _measure(
    url: str, vocabulary: list[str], runs: int
) -> dict[str, tuple[float, float, int]]:
    db = Database(url)
    service = SearchService(db, 1_000_000)
    vendor = User(Role.VENDOR, VENDOR)
    figures: dict[str, tuple[float, float, int]] = {}
    try:
        for name, kind in _kinds(vocabulary, f"a{0:023x}").items():
            words = words_of(kind["query"])
            before: SearchPosition | None = None
            if kind.get("second_page"):
                before = (await service.search(vendor, words, None, None, 20)).next
            times, found = [], 0
            for i in range(runs + 2):  # two warm-ups
                start = time.perf_counter()
                page = await service.search(vendor, words, kind.get("chat_id"), before, 20)
                if i >= 2:
                    times.append((time.perf_counter() - start) * 1000)
                found = len(page.messages)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            figures[name] = (statistics.median(times), p95, found)
    finally:
        await db.close()
    return figures


async def _share(url: str, word: str) -> float:
    """The share of all messages that hold `word`, read from the index itself."""
    db = Database(url)
    try:
        async with db.read() as conn:
            if conn.dialect.name == "sqlite":
                count = (
                    f"SELECT count(*) FROM {index.SQLITE_TABLE} WHERE {index.SQLITE_TABLE} MATCH ?"
                )
                hits = (await conn.exec_driver_sql(count, (f'"{word}"',))).scalar_one()
            else:
                count = (
                    f"SELECT count(*) FROM messages WHERE {index.POSTGRES_COLUMN} @@ $1::tsquery"
                )
                hits = (await conn.exec_driver_sql(count, (word,))).scalar_one()
            total = (await conn.exec_driver_sql("SELECT count(*) FROM messages")).scalar_one()
    finally:
        await db.close()
    return int(hits) / max(1, int(total))


async def _plan(url: str, word: str) -> str:
    """The engine's plan of the search for `word` (EXPLAIN ANALYZE on PostgreSQL)."""
    db = Database(url)
    try:
        async with db.read() as conn:
            pg = conn.dialect.name == "postgresql"
            statement = index.search_statement(
                conn.dialect.name, User(Role.VENDOR, VENDOR), (word,), None, None, 21
            )
            compiled = statement.compile(dialect=conn.dialect)
            values = tuple(compiled.params[k] for k in compiled.positiontup or ())
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            rows = (await conn.exec_driver_sql(prefix + str(compiled), values)).all()
            return "\n".join(str(r[0] if pg else r[-1]) for r in rows)
    finally:
        await db.close()


async def run(report: Report, backends: list[str], n_messages: int, runs: int) -> None:
    n_chats = max(10, n_messages // 1000)
    report.add(
        f"## Search\n\nOne vendor's {n_chats:,} chats hold {n_messages:,} messages (other "
        f"users' chats {n_messages // 10:,} more); `SearchService.search`, a page of 20, "
        f"{runs} runs per query after two warm-ups; p50 and p95 in ms.\n"
    )
    for backend in backends:
        why = await backend_available(backend)
        if why:
            report.add(f"### {backend}: skipped ({why})\n")
            continue
        async with database(backend) as url:
            start = time.perf_counter()
            vocabulary = await _seed(url, n_messages, n_chats)
            seeded = time.perf_counter() - start
            common = await _share(url, "hello")
            figures = await _measure(url, vocabulary, runs)
            plans = {w: await _plan(url, w) for w in ("hello", vocabulary[-1])}
        report.add(
            f"### {backend} (seeded in {seeded:.0f} s, index included; the most common "
            f"word, `hello`, is in {common:.0%} of the messages)\n"
        )
        report.table(
            ["query", "p50 ms", "p95 ms", "results"],
            [
                [name, f"{p50:.2f}", f"{p95:.2f}", str(found)]
                for name, (p50, p95, found) in figures.items()
            ],
        )
        report.data.setdefault("search", {})[backend] = {
            "messages": n_messages, "chats": n_chats, "seed_seconds": seeded,
            "figures": {k: {"p50": v[0], "p95": v[1], "results": v[2]} for k, v in figures.items()},
        }  # fmt: skip
        for word, plan in plans.items():
            report.add(f"Plan of the search for `{word}`:\n\n```\n{plan}\n```\n")
