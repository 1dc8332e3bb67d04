"""Per-user change feeds (syncMessages): appending in commit order, paging, pruning."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import ChatSettings, FeedEntry, Reaction
from slychat.storage import repository
from slychat.storage.rows import chat_from_row, message_from_row
from slychat.storage.tables import chats, feed, feed_heads, messages

_INSERT_FEED = feed.insert()


def lock_order(user: User) -> tuple[int, int]:
    """Every transaction takes feed heads in this one global order, so two transactions
    can never wait on each other's heads."""
    return (0 if user.role is Role.CUSTOMER else 1, user.id)


async def append_feed(
    conn: AsyncConnection,
    users: Sequence[User],
    kind: str,
    chat_id: str,
    at: int,
    *,
    message_id: str | None = None,
    message_ids: Sequence[str] = (),
    actor: User | None = None,
    reactions: Sequence[Reaction] | None = None,
    settings: ChatSettings | None = None,
) -> dict[User, int]:
    """Append one change to each user's feed; the position it got in each. A reactions
    or settings change keeps what it said then (`reactions`, `settings`)."""
    data = _encoded(reactions, settings)
    ordered = sorted(set(users), key=lock_order)
    params: dict[str, Any] = {}
    for i, user in enumerate(ordered):
        params |= {f"t{i}": user.role.value, f"u{i}": user.id}
    rows = await conn.execute(_bump_heads(conn.dialect.name, len(ordered)), params)
    positions = {User(Role(r.user_type), r.user_id): int(r.pos) for r in rows}
    await conn.execute(
        _INSERT_FEED,
        [
            {
                "user_type": user.role.value,
                "user_id": user.id,
                "pos": pos,
                "kind": kind,
                "chat_id": chat_id,
                "message_id": message_id,
                "message_ids": json.dumps(list(message_ids)) if message_ids else None,
                "actor_type": actor.role.value if actor else None,
                "actor_id": actor.id if actor else None,
                "at": at,
                "data": data,
            }
            for user, pos in positions.items()
        ],
    )
    return positions


@functools.cache
def _bump_heads(dialect: str, count: int) -> Any:
    """One upsert that bumps `count` feed heads. The rows are listed in lock order and the
    database takes their locks in that order."""
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(feed_heads).values(
        [
            {"user_type": bindparam(f"t{i}"), "user_id": bindparam(f"u{i}"), "pos": 1}
            for i in range(count)
        ]
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_type", "user_id"], set_={"pos": feed_heads.c.pos + 1}
    ).returning(feed_heads.c.user_type, feed_heads.c.user_id, feed_heads.c.pos)


async def feed_head(conn: AsyncConnection, user: User) -> int:
    query = select(feed_heads.c.pos).where(
        feed_heads.c.user_type == user.role.value, feed_heads.c.user_id == user.id
    )
    return int((await conn.execute(query)).scalar() or 0)


async def feed_page(
    conn: AsyncConnection, user: User, after: int, limit: int
) -> tuple[list[FeedEntry], bool]:
    """The user's changes after position `after`, oldest first, with the messages and
    chats they name in their current state; and whether more follow.

    Messages are their own entries (their row holds their position in each participant's
    feed); the other changes are `feed` rows. Positions are unique within a user's feed,
    so the two sources merge by position."""
    user_id, pos = _message_feed_columns(user)
    message_rows = await conn.execute(
        select(messages).where(user_id == user.id, pos > after).order_by(pos).limit(limit + 1)
    )
    entries = [
        FeedEntry(
            pos=int(getattr(row, pos.key)),
            kind="message",
            chat_id=row.chat_id,
            at=row.created_at,
            message_id=row.id,
            message=message_from_row(row),
        )
        for row in message_rows
    ]
    change_rows = list(
        await conn.execute(
            select(feed)
            .where(
                feed.c.user_type == user.role.value,
                feed.c.user_id == user.id,
                feed.c.pos > after,
            )
            .order_by(feed.c.pos)
            .limit(limit + 1)
        )
    )
    chat_ids = {r.chat_id for r in change_rows if r.kind == "chat"}
    found_chats = {}
    if chat_ids:
        found = await conn.execute(select(chats).where(chats.c.id.in_(chat_ids)))
        found_chats = {c.id: chat_from_row(c) for c in found}
    # An edit is served with the message as it is now, as a message entry is.
    edited_ids = {r.message_id for r in change_rows if r.kind == "edited"}
    edited = {}
    if edited_ids:
        found = await conn.execute(select(messages).where(messages.c.id.in_(edited_ids)))
        edited = {m.id: message_from_row(m) for m in found}
    entries += [
        FeedEntry(
            pos=r.pos,
            kind=r.kind,
            chat_id=r.chat_id,
            at=r.at,
            message_id=r.message_id,
            message_ids=json.loads(r.message_ids) if r.message_ids else [],
            actor=User(Role(r.actor_type), r.actor_id) if r.actor_type else None,
            chat=found_chats.get(r.chat_id) if r.kind == "chat" else None,
            message=edited.get(r.message_id or "") if r.kind == "edited" else None,
            **_decoded(r.kind, r.data),
        )
        for r in change_rows
    ]
    entries.sort(key=lambda e: e.pos)
    return await _completed(conn, entries[:limit]), len(entries) > limit


async def _completed(conn: AsyncConnection, entries: list[FeedEntry]) -> list[FeedEntry]:
    found = [e.message for e in entries if e.message is not None]
    if not found:
        return entries
    complete = {m.id: m for m in await repository.complete(conn, found)}
    return [
        replace(e, message=complete[e.message.id])
        if e.message is not None and e.message.id in complete
        else e
        for e in entries
    ]


def _encoded(reactions: Sequence[Reaction] | None, settings: ChatSettings | None) -> str | None:
    if reactions is not None:
        return json.dumps(
            [[r.emoji, r.user.role.value, r.user.id, r.reacted_at] for r in reactions]
        )
    if settings is not None:
        return json.dumps({"muted": settings.muted, "archived": settings.archived})
    return None


def _decoded(kind: str, data: str | None) -> dict[str, Any]:
    if data is None:
        return {}
    value = json.loads(data)
    if kind == "reactions":
        return {"reactions": tuple(Reaction(e, User(Role(t), uid), at) for e, t, uid, at in value)}
    if kind == "settings":
        return {"settings": ChatSettings(bool(value["muted"]), bool(value["archived"]))}
    return {}


def _message_feed_columns(user: User) -> tuple[Any, Any]:
    if user.role is Role.CUSTOMER:
        return messages.c.customer_id, messages.c.customer_pos
    return messages.c.vendor_id, messages.c.vendor_pos


async def prune_feed(conn: AsyncConnection, older_than: int) -> int:
    result = await conn.execute(feed.delete().where(feed.c.at < older_than))
    return int(result.rowcount or 0)
