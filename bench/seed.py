"""Bulk data for the storage benchmarks, written straight into the tables."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from slychat.domain.ids import now_ms
from slychat.storage.migrate import upgrade
from slychat.storage.search import index_new_messages
from slychat.storage.tables import chats, messages

BATCH = 20_000
VENDOR_CHAT_MESSAGES = 60


@dataclass(frozen=True)
class Seeded:
    vendor_id: int  # the vendor with many chats
    big_chat: str  # the chat with a long history
    big_customer: int
    unread_chat: str  # the chat whose vendor has many unread messages
    unread_customer: int
    unread: int
    messages: int
    chats: int


async def seed(
    url: str,
    total_messages: int,
    total_chats: int,
    vendor_chats: int,
    big_chat_messages: int,
    unread: int,
) -> Seeded:
    """About `total_chats` chats and `total_messages` messages: one vendor with
    `vendor_chats` chats (one of `big_chat_messages`, one with `unread` unread messages for
    the vendor, the others of 60), the rest spread evenly over other users' chats."""
    await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
    engine = create_async_engine(url)
    rng = random.Random(7)
    start = now_ms() - 30 * 86400_000
    vendor_id, base = 1, 1_000_000
    chat_rows: list[dict[str, str | int]] = []
    for i in range(total_chats):
        vendor = vendor_id if i < vendor_chats else 10 + i % 2000
        chat_rows.append(
            {
                "id": _id(i, "c"),
                "product_id": f"p{i}",
                "vendor_id": vendor,
                "customer_id": base + i,
                "product_name": "Product",
                "store_name": "Store",
                "customer_name": "Buyer",
                "last_seq": 0,
                "last_message_at": start,
                "created_at": start,
                "updated_at": start,
            }
        )
    big, unread_chat = chat_rows[0], chat_rows[1]
    # The measured vendor's chats look the same in every seed (each fills a page); only the
    # other users' chats grow with the seed, so a ratio between seeds shows growth with the
    # total number of messages and nothing else.
    own = [big_chat_messages, unread] + [VENDOR_CHAT_MESSAGES] * (vendor_chats - 2)
    others = total_chats - vendor_chats
    per_chat = max(1, (total_messages - sum(own)) // max(1, others))
    counts = own + [per_chat] * others
    async with engine.begin() as conn:
        for i in range(0, len(chat_rows), BATCH):
            await conn.execute(chats.insert(), chat_rows[i : i + BATCH])
    batch: list[dict[str, object]] = []
    written = 0
    for chat, count in zip(chat_rows, counts, strict=True):
        for seq in range(1, count + 1):
            sender_is_customer = chat is unread_chat or rng.random() < 0.5
            at = start + written
            batch.append(
                {
                    "id": _id(written, "m"),
                    "chat_id": chat["id"],
                    "seq": seq,
                    "sender_id": chat["customer_id"] if sender_is_customer else chat["vendor_id"],
                    "sender_type": "CUSTOMER" if sender_is_customer else "VENDOR",
                    "text": f"message {seq}",
                    "client_message_id": None,
                    "created_at": at,
                    "recipient_online": True,
                    "read": chat is not unread_chat,
                    "read_at": None if chat is unread_chat else at,
                    "delivered_at": at,
                    "deleted_at": None,
                    # The participants, as every send writes them (the queries of a
                    # user's unread and undelivered messages read them).
                    "customer_id": chat["customer_id"],
                    "vendor_id": chat["vendor_id"],
                    "customer_pos": None,
                    "vendor_pos": None,
                }
            )
            written += 1
            if len(batch) >= BATCH:
                async with engine.begin() as conn:
                    await conn.execute(messages.insert(), batch)
                batch = []
        chat["last_seq"] = count
    if batch:
        async with engine.begin() as conn:
            await conn.execute(messages.insert(), batch)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE chats SET last_seq = (SELECT max(seq) FROM messages m WHERE m.chat_id = "
                "chats.id), last_message_at = (SELECT max(created_at) FROM messages m WHERE "
                "m.chat_id = chats.id)"
            )
        )
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return Seeded(
        vendor_id,
        str(big["id"]),
        int(big["customer_id"]),
        str(unread_chat["id"]),
        int(unread_chat["customer_id"]),
        unread,
        written,
        total_chats,
    )


def _id(n: int, kind: str) -> str:
    """Deterministic 24-hex ids, distinct per kind."""
    return f"{'a' if kind == 'c' else 'b'}{n:023x}"


# The columns the bulk seeds write; every other column (those later migrations added) takes
# its default, as it does for a message that never used what it stands for.
CHAT_COLUMNS = (
    "id", "product_id", "vendor_id", "customer_id", "product_image_url", "product_price",
    "product_name", "store_logo_url", "customer_profile_pic", "customer_name", "store_name",
    "last_seq", "last_message_at", "created_at", "updated_at",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "chat_id", "seq", "sender_id", "sender_type", "text", "client_message_id",
    "created_at", "recipient_online", "read", "read_at", "delivered_at", "deleted_at",
    "customer_id", "vendor_id", "customer_pos", "vendor_pos", "media_count",
)  # fmt: skip


_BULK = 50_000


def _insert(table: str, columns: tuple[str, ...]) -> str:
    """An SQLite INSERT of `columns` into `table`, one placeholder each."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


async def bulk_write(
    url: str,
    chat_rows: Sequence[tuple[Any, ...]],
    message_rows: Sequence[tuple[Any, ...]],
    *,
    analyze_sqlite: bool,
) -> None:
    """Rows in CHAT_COLUMNS and MESSAGE_COLUMNS order into a migrated database, by the
    drivers' bulk paths (SQLite: executemany, each batch indexed for search in its
    transaction as the send path does; PostgreSQL: COPY), then VACUUM ANALYZE on
    PostgreSQL (what autovacuum does soon after); on SQLite ANALYZE only with
    `analyze_sqlite` (the server itself never runs it)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database or "")
        try:
            conn.executemany(_insert("chats", CHAT_COLUMNS), chat_rows)
            statement = _insert("messages", MESSAGE_COLUMNS)
            for i in range(0, len(message_rows), _BULK):
                batch = message_rows[i : i + _BULK]
                conn.executemany(statement, batch)
                index_new_messages(conn, [row[0] for row in batch])
                conn.commit()
            if analyze_sqlite:
                conn.execute("ANALYZE")
            conn.commit()
        finally:
            conn.close()
        return
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pg = await asyncpg.connect(dsn)
    try:
        await pg.copy_records_to_table("chats", records=chat_rows, columns=list(CHAT_COLUMNS))
        for i in range(0, len(message_rows), _BULK):
            await pg.copy_records_to_table(
                "messages", records=message_rows[i : i + _BULK], columns=list(MESSAGE_COLUMNS)
            )
        await pg.execute("VACUUM ANALYZE")
    finally:
        await pg.close()
