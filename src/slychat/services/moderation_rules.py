"""Moderators' rules (admin API): stored in the database, compiled in every node's memory.

A rule added or deleted on this node is in effect here at once; every node reads the
table again every SLYCHAT_REVOCATION_POLL (as revocations) and compiles it again when the
set of rules changed, so a change is in effect everywhere within that time. The send
path reads only the compiled set (`current`): no query per message.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Invalid, NotFound
from slychat.domain.ids import new_id, now_ms
from slychat.moderation import Action, Rule, RuleError, RuleKind, RuleSet, check_rule
from slychat.storage import moderation_rules as store
from slychat.storage.database import Database
from slychat.storage.moderation_rules import RuleRow

log = logging.getLogger(__name__)

# Every rule runs on every message: a bound on the work a message costs.
MAX_RULES = 500
MAX_NOTE = 1000


class ModerationRules:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.current = RuleSet(())  # replaced whole, never changed: safe in worker threads
        self._rows: dict[str, RuleRow] = {}

    def note_for(self, rule_id: str) -> str:
        """What an automatic report says of a rule that matched: which rule, and why."""
        row = self._rows.get(rule_id)
        if row is None:  # deleted since it matched
            return f"Moderation rule {rule_id}"
        said = f"Moderation rule {row.id} ({row.action} {row.kind} {row.pattern!r})"
        return f"{said}: {row.note}" if row.note else said

    async def refresh(self) -> list[RuleRow]:
        """Read every rule; compile them again when they changed. Every rule, oldest first."""
        async with self.db.read() as conn:
            rows = await store.all_rules(conn)
        self._adopt(rows)
        return rows

    async def add(
        self, kind: str, pattern: str, action: str, note: str | None, key_id: str
    ) -> RuleRow:
        """Store a rule and apply it here at once; Invalid when it cannot be used."""
        try:
            check_rule(kind, pattern)
        except RuleError as exc:
            raise Invalid(f"Invalid data provided: pattern: {exc}") from None
        if action not in {a.value for a in Action}:
            raise Invalid("Invalid data provided: action must be one of: mask, refuse, flag")
        if note is not None and len(note) > MAX_NOTE:
            raise Invalid(f"Invalid data provided: note is longer than {MAX_NOTE} characters")
        row = RuleRow(new_id(), kind, pattern, action, note or None, now_ms(), key_id)

        async def work(conn: AsyncConnection) -> None:
            if await store.count(conn) >= MAX_RULES:
                raise Invalid(f"There are {MAX_RULES} rules already: delete one first")
            await store.insert(conn, row)

        await self.db.write(work)
        await self.refresh()
        return row

    async def delete(self, rule_id: str) -> None:
        """Delete a rule and stop applying it here at once; NotFound when there is none."""

        async def work(conn: AsyncConnection) -> bool:
            return await store.remove(conn, rule_id)

        if not await self.db.write(work):
            raise NotFound("Rule not found")
        await self.refresh()

    def _adopt(self, rows: list[RuleRow]) -> None:
        if {r.id for r in rows} == set(self._rows):
            return  # rules are never changed in place: the same ids are the same rules
        rules = []
        for row in rows:
            try:  # checked when added; one the engine no longer takes must not stop the rest
                check_rule(row.kind, row.pattern)
                rules.append(Rule(row.id, RuleKind(row.kind), row.pattern, Action(row.action)))
            except (RuleError, ValueError) as exc:
                log.warning("moderation rule %s is not applied: %s", row.id, exc)
        self.current = RuleSet(rules)
        self._rows = {r.id: r for r in rows}
