"""What the `message.unread` scan reads and writes. Never commits.

A message is due for a notice when it is unread, not deleted, sent by the recipient's
counterpart (never SYSTEM), at least the delay old (`created_at <= cutoff`), newer than
what the recipient's last notice reported (`unread_notices.notified_until`), and the
recipient has not been seen since the cutoff (`last_seen`), in a chat the recipient has not
muted (`chat_settings`). Whether the recipient is
connected right now is the registry's to say, not the database's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import Chat
from slychat.storage.rows import chat_from_row
from slychat.storage.tables import chat_settings, chats, last_seen, messages, unread_notices

_m = messages
_n = unread_notices
_s = last_seen
_c = chat_settings


@dataclass(frozen=True, slots=True)
class UnreadMessage:
    chat_id: str
    message_id: str
    created_at: int


def _recipient_column(role: Role) -> Any:
    return _m.c.vendor_id if role is Role.VENDOR else _m.c.customer_id


def _due(role: Role, cutoff: int, after: int, until: int | None = None) -> tuple[Any, Any]:
    """The FROM clause and the conditions of messages due for a notice to users of `role`
    (or, with `until`, of the messages such a notice reports: those up to `until`)."""
    recipient = _recipient_column(role)
    source = (
        _m.outerjoin(_n, and_(_n.c.user_type == role.value, _n.c.user_id == recipient))
        .outerjoin(_s, and_(_s.c.user_type == role.value, _s.c.user_id == recipient))
        .outerjoin(
            _c,
            and_(
                _c.c.user_type == role.value,
                _c.c.user_id == recipient,
                _c.c.chat_id == _m.c.chat_id,
            ),
        )
    )
    conditions = and_(
        # Written as the partial index's predicate (`read = false`), so that it is used.
        _m.c.read == false(),
        _m.c.created_at > after,
        _m.c.created_at <= (cutoff if until is None else until),
        _m.c.deleted_at.is_(None),
        _m.c.sender_type == role.counterpart.value,
        _m.c.created_at > func.coalesce(_n.c.notified_until, -1),
        or_(_s.c.seen_at.is_(None), _s.c.seen_at < cutoff),
        # A chat its recipient muted sends them no notice.
        or_(_c.c.muted.is_(None), _c.c.muted == false()),
    )
    return source, conditions


async def recipients(
    conn: AsyncConnection, role: Role, cutoff: int, after: int, after_id: int, limit: int
) -> list[User]:
    """Up to `limit` users of `role` with ids above `after_id`, in id order, who have
    messages due for a notice created in (after, cutoff]."""
    source, conditions = _due(role, cutoff, after)
    column = _recipient_column(role)
    query = (
        select(column)
        .select_from(source)
        .where(conditions, column > after_id)
        .group_by(column)
        .order_by(column)
        .limit(limit)
    )
    return [User(role, int(uid)) for (uid,) in await conn.execute(query)]


async def chats_by_ids(conn: AsyncConnection, chat_ids: Sequence[str]) -> dict[str, Chat]:
    rows = await conn.execute(select(chats).where(chats.c.id.in_(chat_ids)))
    return {chat.id: chat for chat in map(chat_from_row, rows)}


async def due_for(
    conn: AsyncConnection, recipient: User, cutoff: int, after: int, until: int
) -> list[UnreadMessage]:
    """`recipient`'s messages a notice reports, created in (after, until] (some of them
    may be younger than the cutoff), oldest first."""
    source, conditions = _due(recipient.role, cutoff, after, until)
    query = (
        select(_m.c.chat_id, _m.c.id, _m.c.created_at)
        .select_from(source)
        .where(conditions, _recipient_column(recipient.role) == recipient.id)
        .order_by(_m.c.created_at, _m.c.id)
    )
    return [UnreadMessage(str(c), str(i), int(at)) for c, i, at in await conn.execute(query)]


async def notified_until(conn: AsyncConnection, user: User) -> int | None:
    query = select(_n.c.notified_until).where(
        _n.c.user_type == user.role.value, _n.c.user_id == user.id
    )
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


async def advance(conn: AsyncConnection, user: User, seen: int | None, to: int) -> bool:
    """Move `user`'s watermark from `seen` (None: no row yet) to `to`; False, changing
    nothing, when it is no longer at `seen` (a notice was written meanwhile)."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(_n).values(user_type=user.role.value, user_id=user.id, notified_until=to)
    if seen is None:
        stmt = insert.on_conflict_do_nothing()
    else:
        stmt = insert.on_conflict_do_update(
            index_elements=[_n.c.user_type, _n.c.user_id],
            set_={"notified_until": to},
            where=_n.c.notified_until == seen,
        )
    return (await conn.execute(stmt.returning(_n.c.user_id))).first() is not None
