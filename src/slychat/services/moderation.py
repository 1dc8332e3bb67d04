"""The moderators' side of reports (the moderation API): the queue, one report with its
snapshot, a decision (dismiss, delete the message, suspend its author), suspensions.
Every decision is recorded with the API key that made it (its id and name then), when,
and the moderator's note, and is returned with the report."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Conflict, Invalid, NotFound
from slychat.domain.identity import User
from slychat.domain.ids import new_id, now_ms
from slychat.domain.reports import (
    LIFT,
    MESSAGE,
    RESOLVED,
    Decision,
    Report,
    ReportPage,
    Suspension,
)
from slychat.services.apikeys import ApiKey
from slychat.services.events import MessageDeleted
from slychat.services.messages import MessageService, tombstone
from slychat.services.suspensions import Suspensions
from slychat.storage import reports as store
from slychat.storage import repository as repo
from slychat.storage.database import Database


@dataclass(frozen=True, slots=True)
class Resolve:
    action: str  # dismiss | delete_message | suspend_user
    note: str | None = None
    until: int | None = None  # suspend_user: epoch ms, None: until lifted


class ModerationService:
    def __init__(self, db: Database, messages: MessageService, suspensions: Suspensions) -> None:
        self.db = db
        self.messages = messages
        self.suspensions = suspensions

    async def page(
        self, status: str | None, target: User | None, before: str | None, limit: int
    ) -> ReportPage:
        """Reports newest first, with their decisions and their targets' open reports;
        the counts by reason of every report the filters match."""
        async with self.db.read() as conn:
            found, more = await store.page(conn, status, target, before, limit)
            found = await self._completed(conn, found)
            counts = await store.counts_by_reason(conn, status, target)
        return ReportPage(found, more, counts)

    async def report(self, report_id: str) -> Report:
        async with self.db.read() as conn:
            found = await store.report_by_id(conn, report_id)
            if found is None:
                raise NotFound("Report not found")
            return (await self._completed(conn, [found]))[0]

    async def media_key(self, report_id: str, media_id: str) -> str:
        """The store key of a file the report's snapshot shows: its thumbnail when it has
        one (what the console shows), else the file."""
        async with self.db.read() as conn:
            found = await store.shown_file(conn, report_id, media_id)
            if found is None and not await store.report_exists(conn, report_id):
                raise NotFound("Report not found")
        if found is None:
            raise NotFound("This report shows no such file")
        file_key, thumbnail_key = found
        return thumbnail_key or file_key

    async def resolve(self, report_id: str, decision: Resolve, key: ApiKey) -> Report:
        """Decide an open report (Conflict once resolved): the decision recorded, and what
        it does (the message deleted as deleteMessage deletes it, its author suspended)
        in the same transaction; published once committed."""
        now = now_ms()
        self._check_until(decision.until, now)

        async def work(
            conn: AsyncConnection,
        ) -> tuple[tuple[MessageDeleted, list[str]] | None, Suspension | None]:
            report = await store.report_by_id(conn, report_id, for_update=True)
            if report is None:
                raise NotFound("Report not found")
            if report.status == RESOLVED:
                raise Conflict("This report has been resolved already")
            if decision.action == "delete_message" and report.target_kind != MESSAGE:
                raise Invalid("delete_message: this report is about a user, not a message")
            if decision.until is not None and decision.action != "suspend_user":
                raise Invalid("until: only suspend_user takes it")
            if not await store.resolve(conn, report_id, now):
                raise Conflict("This report has been resolved already")
            deleted = suspended = None
            if decision.action == "delete_message" and report.target_message_id is not None:
                message = await repo.message_by_id(conn, report.target_message_id)
                chat = None if message is None else await repo.chat_by_id(conn, message.chat_id)
                if message is not None and chat is not None and message.deleted_at is None:
                    deleted = await tombstone(conn, chat, message.id)
            elif decision.action == "suspend_user":
                reason = decision.note or f"report {report.id}: {report.reason}"
                suspended = Suspension(
                    report.target_user, reason, decision.until, now, key.id, report.id
                )
                await store.suspend(conn, new_id(), suspended, now)
            await self._decide(
                conn, report_id, decision.action, decision.note, decision.until, key, now
            )
            return deleted, suspended

        deleted, suspended = await self.db.write(work)
        if suspended is not None:
            self.suspensions.remember(suspended)
        if deleted is not None:
            await self.messages.deleted(*deleted)
        return await self.report(report_id)

    async def suspend(self, user: User, reason: str, until: int | None, key: ApiKey) -> Suspension:
        """Suspend `user` (replacing a suspension of theirs in force) until `until`."""
        now = now_ms()
        self._check_until(until, now)
        suspension = Suspension(user, reason, until, now, key.id)
        await self.db.write(lambda conn: store.suspend(conn, new_id(), suspension, now))
        self.suspensions.remember(suspension)
        return suspension

    async def lift(self, user: User, key: ApiKey) -> Suspension:
        """Lift `user`'s suspension in force (NotFound without one); when a report's
        decision made it, that report records the lift."""
        now = now_ms()

        async def work(conn: AsyncConnection) -> Suspension | None:
            lifted = await store.lift(conn, user, now)
            if lifted is not None and lifted.report_id is not None:
                await self._decide(conn, lifted.report_id, LIFT, None, None, key, now)
            return lifted

        lifted = await self.db.write(work)
        if lifted is None:
            raise NotFound("This user is not suspended")
        self.suspensions.forget(user)
        return lifted

    async def suspension(self, user: User) -> Suspension:
        async with self.db.read() as conn:
            found = await store.suspension_of(conn, user, now_ms())
        if found is None:
            raise NotFound("This user is not suspended")
        return found

    @staticmethod
    def _check_until(until: int | None, now: int) -> None:
        if until is not None and until <= now:
            raise Invalid("until: must be in the future")

    @staticmethod
    async def _decide(
        conn: AsyncConnection,
        report_id: str,
        action: str,
        note: str | None,
        until: int | None,
        key: ApiKey,
        now: int,
    ) -> None:
        decision = Decision(action, note, until, key.id, key.name, now)
        await store.add_decision(conn, new_id(), report_id, decision)

    @staticmethod
    async def _completed(conn: AsyncConnection, found: list[Report]) -> list[Report]:
        """`found` with their decisions and their targets' open report counts."""
        decisions = await store.decisions_of(conn, [r.id for r in found])
        counts = await store.open_against(conn, [r.target_user for r in found])
        return [
            replace(
                r,
                decisions=tuple(decisions.get(r.id, ())),
                target_open_reports=counts.get(r.target_user, 0),
            )
            for r in found
        ]
