"""moderation_rules: the moderators' rules, added and deleted by the admin API. Never
commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.storage.tables import moderation_rules


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: str
    kind: str
    pattern: str
    action: str
    note: str | None
    created_at: int
    key_id: str


async def insert(conn: AsyncConnection, rule: RuleRow) -> None:
    await conn.execute(
        moderation_rules.insert().values(
            id=rule.id,
            kind=rule.kind,
            pattern=rule.pattern,
            action=rule.action,
            note=rule.note,
            created_at=rule.created_at,
            key_id=rule.key_id,
        )
    )


async def all_rules(conn: AsyncConnection) -> list[RuleRow]:
    """Every rule, oldest first."""
    t = moderation_rules
    rows = await conn.execute(
        select(
            t.c.id, t.c.kind, t.c.pattern, t.c.action, t.c.note, t.c.created_at, t.c.key_id
        ).order_by(t.c.created_at, t.c.id)
    )
    return [RuleRow(*row) for row in rows]


async def count(conn: AsyncConnection) -> int:
    found = await conn.execute(select(func.count()).select_from(moderation_rules))
    return int(found.scalar_one())


async def remove(conn: AsyncConnection, rule_id: str) -> bool:
    """Delete a rule; whether it existed."""
    result = await conn.execute(delete(moderation_rules).where(moderation_rules.c.id == rule_id))
    return bool(result.rowcount)
