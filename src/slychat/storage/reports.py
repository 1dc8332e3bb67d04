"""Reports, their decisions and suspensions (moderation). Never commits.

Cold paths (a report, a moderator's page), so SQLAlchemy Core on both engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, Media, Message
from slychat.domain.reports import OPEN, RESOLVED, Decision, Report, Suspension
from slychat.storage.repository import complete
from slychat.storage.rows import chat_from_row, message_from_row
from slychat.storage.tables import (
    chats,
    messages,
    report_decisions,
    report_media,
    reports,
    suspensions,
)

_r = reports
_s = suspensions
_SUMMARY = [c for c in _r.c if c.name != "snapshot"]
_live = messages.c.deleted_at.is_(None)


def _insert(conn: AsyncConnection, table: Any) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _report(row: Any, snapshot: bool = False) -> Report:
    return Report(
        id=row.id,
        status=row.status,
        reason=row.reason,
        note=row.note,
        automatic=bool(row.automatic),
        reporter=User(Role(row.reporter_type), row.reporter_id),
        target_kind=row.target_kind,
        target_user=User(Role(row.target_user_type), row.target_user_id),
        target_message_id=row.target_message_id,
        target_chat_id=row.target_chat_id,
        created_at=row.created_at,
        snapshot=orjson.loads(row.snapshot) if snapshot else None,
    )


# --- reports -------------------------------------------------------------------------------


async def open_report_of(conn: AsyncConnection, reporter: User, key: str) -> Report | None:
    """`reporter`'s open report about the target `key`, if there is one."""
    row = (
        await conn.execute(
            select(*_SUMMARY).where(
                _r.c.reporter_type == reporter.role.value,
                _r.c.reporter_id == reporter.id,
                _r.c.target_key == key,
                _r.c.status == OPEN,
            )
        )
    ).first()
    return _report(row) if row else None


async def insert_report(
    conn: AsyncConnection,
    report: Report,
    key: str,
    snapshot: dict[str, Any],
    media: Sequence[tuple[str, Media]],
) -> bool:
    """Store an open report and the files its snapshot shows (message id, media), unless
    the reporter has one open about the same target (a concurrent duplicate): whether
    this one was stored."""
    stmt = _insert(conn, _r).values(
        id=report.id,
        status=OPEN,
        reason=report.reason,
        note=report.note,
        automatic=report.automatic,
        reporter_type=report.reporter.role.value,
        reporter_id=report.reporter.id,
        target_kind=report.target_kind,
        target_user_type=report.target_user.role.value,
        target_user_id=report.target_user.id,
        target_message_id=report.target_message_id,
        target_chat_id=report.target_chat_id,
        target_key=key,
        created_at=report.created_at,
        snapshot=orjson.dumps(snapshot).decode(),
    )
    done = await conn.execute(
        stmt.on_conflict_do_nothing(
            index_elements=[_r.c.reporter_type, _r.c.reporter_id, _r.c.target_key],
            index_where=_r.c.status == OPEN,
        )
    )
    if not done.rowcount:
        return False
    if media:
        await conn.execute(
            report_media.insert(),
            [
                {
                    "report_id": report.id,
                    "media_id": item.id,
                    "message_id": message_id,
                    "file_key": item.key,
                    "thumbnail_key": item.thumbnail_key,
                    "mime_type": item.mime_type,
                }
                for message_id, item in media
            ],
        )
    return True


async def report_by_id(
    conn: AsyncConnection, report_id: str, *, for_update: bool = False
) -> Report | None:
    """The report with its snapshot; `for_update`: its row locked until commit."""
    query = select(_r).where(_r.c.id == report_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _report(row, snapshot=True) if row else None


async def report_exists(conn: AsyncConnection, report_id: str) -> bool:
    return (await conn.execute(select(_r.c.id).where(_r.c.id == report_id))).first() is not None


async def shown_file(
    conn: AsyncConnection, report_id: str, media_id: str
) -> tuple[str, str | None] | None:
    """The store keys (file, thumbnail) of a file the report's snapshot shows, if it does."""
    m = report_media
    row = (
        await conn.execute(
            select(m.c.file_key, m.c.thumbnail_key).where(
                m.c.report_id == report_id, m.c.media_id == media_id
            )
        )
    ).first()
    return None if row is None else (str(row[0]), row[1])


def _filtered(query: Any, status: str | None, target: User | None) -> Any:
    if status is not None:
        query = query.where(_r.c.status == status)
    if target is not None:
        query = query.where(
            _r.c.target_user_type == target.role.value, _r.c.target_user_id == target.id
        )
    return query


async def page(
    conn: AsyncConnection, status: str | None, target: User | None, before: str | None, limit: int
) -> tuple[list[Report], bool]:
    """Up to `limit` reports, newest first, before the report id `before`; whether more."""
    query = _filtered(select(*_SUMMARY), status, target)
    if before is not None:
        query = query.where(_r.c.id < before)
    rows = list(await conn.execute(query.order_by(_r.c.id.desc()).limit(limit + 1)))
    return [_report(row) for row in rows[:limit]], len(rows) > limit


async def counts_by_reason(
    conn: AsyncConnection, status: str | None, target: User | None
) -> dict[str, int]:
    query = _filtered(select(_r.c.reason, func.count()).group_by(_r.c.reason), status, target)
    return {str(reason): int(n) for reason, n in await conn.execute(query)}


async def open_against(conn: AsyncConnection, users: Sequence[User]) -> dict[User, int]:
    """How many open reports each of `users` is the target of."""
    found: dict[User, int] = {}
    for role in {u.role for u in users}:
        ids = sorted({u.id for u in users if u.role is role})
        rows = await conn.execute(
            select(_r.c.target_user_id, func.count())
            .where(
                _r.c.status == OPEN,
                _r.c.target_user_type == role.value,
                _r.c.target_user_id.in_(ids),
            )
            .group_by(_r.c.target_user_id)
        )
        for uid, n in rows:
            found[User(role, int(uid))] = int(n)
    return found


async def decisions_of(
    conn: AsyncConnection, report_ids: Sequence[str]
) -> dict[str, list[Decision]]:
    found: dict[str, list[Decision]] = {}
    if not report_ids:
        return found
    d = report_decisions
    rows = await conn.execute(
        select(d)
        .where(d.c.report_id.in_(report_ids))
        .order_by(d.c.report_id, d.c.decided_at, d.c.id)
    )
    for r in rows:
        found.setdefault(r.report_id, []).append(
            Decision(r.action, r.note, r.until, r.key_id, r.key_name, r.decided_at)
        )
    return found


async def resolve(conn: AsyncConnection, report_id: str, now: int) -> bool:
    """Mark an open report resolved; False when it was not open (resolved already)."""
    done = await conn.execute(
        update(_r)
        .where(_r.c.id == report_id, _r.c.status == OPEN)
        .values(status=RESOLVED, resolved_at=now)
    )
    return bool(done.rowcount)


async def add_decision(
    conn: AsyncConnection, decision_id: str, report_id: str, d: Decision
) -> None:
    await conn.execute(
        report_decisions.insert().values(
            id=decision_id,
            report_id=report_id,
            action=d.action,
            note=d.note,
            until=d.until,
            key_id=d.key_id,
            key_name=d.key_name,
            decided_at=d.decided_at,
        )
    )


# --- what a snapshot shows ------------------------------------------------------------------


async def around(conn: AsyncConnection, message: Message, count: int) -> list[Message]:
    """Up to `count` live messages of the chat around `message` (half before, half after,
    the rest from the other side when one runs short), oldest first, complete."""
    base = select(messages).where(messages.c.chat_id == message.chat_id, _live)
    before = list(
        await conn.execute(
            base.where(messages.c.seq < message.seq).order_by(messages.c.seq.desc()).limit(count)
        )
    )
    after = list(
        await conn.execute(
            base.where(messages.c.seq > message.seq).order_by(messages.c.seq).limit(count)
        )
    )
    take_after = min(len(after), max(count // 2, count - len(before)))
    take_before = min(len(before), count - take_after)
    rows = list(reversed(before[:take_before])) + after[:take_after]
    return await complete(conn, [message_from_row(r) for r in rows])


async def original_text(conn: AsyncConnection, message_id: str) -> str | None:
    query = select(messages.c.original_text).where(messages.c.id == message_id)
    return (await conn.execute(query)).scalar()


async def shared_chat(conn: AsyncConnection, a: User, b: User, chat_id: str | None) -> Chat | None:
    """The chat `a` and `b` both take part in: `chat_id` if it is one of theirs, else the
    one with the latest activity; None when they share none."""
    vendor, customer = (a, b) if a.role is Role.VENDOR else (b, a)
    if vendor.role is not Role.VENDOR or customer.role is not Role.CUSTOMER:
        return None
    query = select(chats).where(chats.c.vendor_id == vendor.id, chats.c.customer_id == customer.id)
    if chat_id is not None:
        query = query.where(chats.c.id == chat_id)
    row = (await conn.execute(query.order_by(chats.c.last_message_at.desc()).limit(1))).first()
    return chat_from_row(row) if row else None


# --- suspensions --------------------------------------------------------------------------


def _suspension(row: Any) -> Suspension:
    return Suspension(
        User(Role(row.user_type), row.user_id),
        row.reason,
        row.until,
        row.suspended_at,
        row.key_id,
        row.report_id,
    )


def _unlifted(user: User) -> Any:
    return (
        (_s.c.user_type == user.role.value) & (_s.c.user_id == user.id) & _s.c.lifted_at.is_(None)
    )


async def suspend(conn: AsyncConnection, suspension_id: str, s: Suspension, now: int) -> None:
    """Suspend `s.user`, replacing a suspension of theirs still unlifted (ended or not)."""
    await conn.execute(update(_s).where(_unlifted(s.user)).values(lifted_at=now))
    await conn.execute(
        _s.insert().values(
            id=suspension_id,
            user_type=s.user.role.value,
            user_id=s.user.id,
            reason=s.reason,
            until=s.until,
            suspended_at=s.suspended_at,
            key_id=s.key_id,
            report_id=s.report_id,
        )
    )


async def suspension_of(conn: AsyncConnection, user: User, now: int) -> Suspension | None:
    """`user`'s suspension in force at `now`, if any."""
    row = (await conn.execute(select(_s).where(_unlifted(user)))).first()
    if row is None:
        return None
    found = _suspension(row)
    return found if found.in_force(now) else None


async def lift(conn: AsyncConnection, user: User, now: int) -> Suspension | None:
    """Lift `user`'s suspension in force; the one lifted, or None."""
    found = await suspension_of(conn, user, now)
    if found is not None:
        await conn.execute(update(_s).where(_unlifted(user)).values(lifted_at=now))
    return found


async def in_force(conn: AsyncConnection, now: int) -> list[Suspension]:
    """Every suspension in force at `now` (few: each node keeps them all in memory)."""
    rows = await conn.execute(
        select(_s).where(_s.c.lifted_at.is_(None), _s.c.until.is_(None) | (_s.c.until > now))
    )
    return [_suspension(row) for row in rows]
