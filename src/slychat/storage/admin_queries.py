"""Queries of the admin API's bulk operations: a chat's whole history in pages (export),
and erasing a user's data in bounded batches. Functions never commit."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, Message, MessageVersion
from slychat.storage.feeds import lock_order
from slychat.storage.repository import complete, erase_extras
from slychat.storage.rows import chat_from_row, message_from_row
from slychat.storage.tables import (
    chats,
    feed,
    feed_heads,
    last_seen,
    message_media,
    message_versions,
    messages,
    report_media,
)


async def messages_after(
    conn: AsyncConnection, chat_id: str, after_seq: int, limit: int
) -> list[tuple[Message, str | None]]:
    """Up to `limit` messages of the chat after `after_seq`, in `seq` order, deleted ones
    (tombstones) included, with their media; each with the text its sender wrote when
    contact details were masked in it (None otherwise): for moderators only."""
    rows = (
        await conn.execute(
            select(messages)
            .where(messages.c.chat_id == chat_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
            .limit(limit)
        )
    ).all()
    found = await complete(conn, [message_from_row(row) for row in rows])
    return [(m, row.original_text) for m, row in zip(found, rows, strict=True)]


async def versions_of(
    conn: AsyncConnection, message_ids: Sequence[str]
) -> dict[str, list[MessageVersion]]:
    """The earlier texts of these messages, oldest first (only edited ones have any)."""
    found: dict[str, list[MessageVersion]] = {}
    if not message_ids:
        return found
    rows = await conn.execute(
        select(message_versions)
        .where(message_versions.c.message_id.in_(message_ids))
        .order_by(message_versions.c.message_id, message_versions.c.version)
    )
    for r in rows:
        found.setdefault(r.message_id, []).append(
            MessageVersion(r.version, r.text, r.written_at, r.replaced_at)
        )
    return found


def _user_column(role: Role) -> Any:
    return chats.c.vendor_id if role is Role.VENDOR else chats.c.customer_id


async def chats_after(conn: AsyncConnection, user: User, after_id: str, limit: int) -> list[Chat]:
    """Up to `limit` of the user's chats with an id after `after_id`, by id."""
    rows = await conn.execute(
        select(chats)
        .where(_user_column(user.role) == user.id, chats.c.id > after_id)
        .order_by(chats.c.id)
        .limit(limit)
    )
    return [chat_from_row(row) for row in rows]


async def live_messages_of(
    conn: AsyncConnection, chat: Chat, sender: Role, after_seq: int, limit: int
) -> list[tuple[str, int]]:
    """Up to `limit` (id, seq) of live messages `sender`'s side sent in the chat after
    `after_seq` (a chat has one customer and one vendor, so the side is the sender), oldest
    first. An erasure passes the last seq of its previous batch, so that no batch reads
    again the tombstones the ones before it wrote."""
    rows = await conn.execute(live_messages_query(chat.id, sender, after_seq, limit))
    return [(row.id, int(row.seq)) for row in rows]


def live_messages_query(chat_id: str, sender: Role, after_seq: int, limit: int) -> Any:
    return (
        select(messages.c.id, messages.c.seq)
        .where(
            messages.c.chat_id == chat_id,
            messages.c.seq > after_seq,
            messages.c.sender_type == sender.value,
            messages.c.deleted_at.is_(None),
        )
        .order_by(messages.c.seq)
        .limit(limit)
    )


async def tombstone_many(conn: AsyncConnection, message_ids: Sequence[str], now: int) -> list[str]:
    """`repository.tombstone` for many messages at once: content erased, media rows gone,
    and (an erasure: the files go whatever shows them) the report rows naming their files;
    the media store keys of the files they had (the caller removes the files)."""
    await conn.execute(
        update(messages)
        .where(messages.c.id.in_(message_ids))
        .values(deleted_at=now, text=None, original_text=None, media_count=0, reaction_count=0)
    )
    await erase_extras(conn, message_ids)
    await conn.execute(report_media.delete().where(report_media.c.message_id.in_(message_ids)))
    removed = await conn.execute(
        message_media.delete()
        .where(message_media.c.message_id.in_(message_ids))
        .returning(message_media.c.file_key, message_media.c.thumbnail_key)
    )
    return [key for row in removed for key in row if key is not None]


async def append_deleted(
    conn: AsyncConnection, chat: Chat, message_ids: Sequence[str], now: int
) -> None:
    """A `deleted` change per message in both participants' feeds: each head is bumped
    once by the batch's size (in the global lock order), then every row is inserted."""
    users = sorted((chat.customer, chat.vendor), key=lock_order)
    n = len(message_ids)
    params: dict[str, Any] = {"n": n}
    for i, user in enumerate(users):
        params |= {f"t{i}": user.role.value, f"u{i}": user.id}
    rows = await conn.execute(_bump_heads_by(conn.dialect.name), params)
    first = {User(Role(r.user_type), int(r.user_id)): int(r.pos) - n + 1 for r in rows}
    await conn.execute(
        feed.insert(),
        [
            {
                "user_type": user.role.value,
                "user_id": user.id,
                "pos": first[user] + i,
                "kind": "deleted",
                "chat_id": chat.id,
                "message_id": message_id,
                "message_ids": None,
                "actor_type": None,
                "actor_id": None,
                "at": now,
            }
            for user in users
            for i, message_id in enumerate(message_ids)
        ],
    )


@functools.cache
def _bump_heads_by(dialect: str) -> Any:
    """Both participants' heads moved on by `n`; rows listed in lock order."""
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(feed_heads).values(
        [
            {"user_type": bindparam(f"t{i}"), "user_id": bindparam(f"u{i}"), "pos": bindparam("n")}
            for i in range(2)
        ]
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_type", "user_id"], set_={"pos": feed_heads.c.pos + stmt.excluded.pos}
    ).returning(feed_heads.c.user_type, feed_heads.c.user_id, feed_heads.c.pos)


# What a user wrote into the chats they take part in: a customer's name and picture, a
# vendor's store name and logo.
_PERSONAL = {
    Role.CUSTOMER: (chats.c.customer_name, chats.c.customer_profile_pic),
    Role.VENDOR: (chats.c.store_name, chats.c.store_logo_url),
}


async def clear_personal_fields(conn: AsyncConnection, user: User, limit: int) -> int:
    """Clear the user's personal fields on up to `limit` of their chats; how many."""
    columns = _PERSONAL[user.role]
    chosen = (
        select(chats.c.id)
        .where(_user_column(user.role) == user.id, or_(*(c.is_not(None) for c in columns)))
        .limit(limit)
    )
    ids = list((await conn.execute(chosen)).scalars())
    if not ids:
        return 0
    await conn.execute(
        update(chats).where(chats.c.id.in_(ids)).values({c.name: None for c in columns})
    )
    return len(ids)


async def forget_last_seen(conn: AsyncConnection, user: User) -> bool:
    """Remove the user's lastSeen; whether there was one."""
    result = await conn.execute(
        delete(last_seen).where(
            and_(last_seen.c.user_type == user.role.value, last_seen.c.user_id == user.id)
        )
    )
    return bool(result.rowcount)
