"""Reports: a participant reports a message or the user they share a chat with, and the
server reports a text it masked contact details in (reporter SYSTEM, `automatic`); a
moderation rule's `flag` opens one the same way (`open_automatic`).

Each report freezes a snapshot in its own transaction: the message as its recipient saw
it, what its sender wrote (the original of a masked text, the earlier versions of an
edited one), its media, and the messages around it; later edits and deletes change the
messages, never the snapshot. One reporter has one open report per target: a duplicate
is answered with the open one. `report.created` goes to the webhook outbox in the same
transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Forbidden, Invalid, NotFound
from slychat.domain.identity import SYSTEM_USER, Role, User
from slychat.domain.ids import iso, new_id, now_ms
from slychat.domain.models import Chat, Media, Message
from slychat.domain.reports import (
    MESSAGE,
    NOTE_LENGTH,
    OPEN,
    USER,
    Report,
    report_json,
    target_key,
)
from slychat.domain.webhook_events import report_created
from slychat.storage import admin_queries
from slychat.storage import reports as store
from slychat.storage import repository as repo
from slychat.storage import webhook_outbox as outbox
from slychat.storage.database import Database

log = logging.getLogger(__name__)

# A message as its users are shown it (the wire shape), built by the transport's builder.
Render = Callable[[Message], dict[str, Any]]
AROUND = 20  # messages around a reported message in its snapshot
LATEST = 50  # a user report: the chat's latest messages
OFF_PLATFORM = "off_platform"
INAPPROPRIATE = "inappropriate"  # a moderation rule's mask or flag
MASKED_NOTE = "Contact details were masked in this message"


@dataclass(frozen=True, slots=True)
class Filed:
    report: Report
    created: bool  # False: the reporter's open report about the same target, as it is


class ReportService:
    def __init__(self, db: Database, render: Render, *, webhooks: bool) -> None:
        self.db = db
        self.render = render
        self.webhooks = webhooks  # write `report.created` to the outbox (a URL is set)
        self._pending: set[asyncio.Task[None]] = set()

    async def report_message(
        self, reporter: User, message_id: str, reason: str, note: str | None
    ) -> Filed:
        """Only a participant of the message's chat reports it; nothing is stored else."""

        async def work(conn: AsyncConnection) -> Filed:
            message = await repo.message_by_id(conn, message_id)
            if message is None or message.deleted_at is not None:
                raise NotFound("Message not found")
            chat = await repo.chat_by_id(conn, message.chat_id)
            if chat is None or not chat.has_participant(reporter):
                raise Forbidden("You are not a participant of this chat")
            if message.sender == reporter:
                raise Invalid("You cannot report your own message")
            if message.sender.role is Role.SYSTEM:
                raise Invalid("The platform's notices cannot be reported")
            return await self._message_report(conn, reporter, message, chat, reason, note)

        return await self.db.write(work)

    async def report_user(
        self, reporter: User, target: User, reason: str, note: str | None, chat_id: str | None
    ) -> Filed:
        """Only someone sharing a chat with `target` reports them: the snapshot is that
        chat's latest messages (the chat `chat_id` names, else their latest)."""

        async def work(conn: AsyncConnection) -> Filed:
            chat = None
            if target.role is reporter.role.counterpart:
                chat = await store.shared_chat(conn, reporter, target, chat_id)
            if chat is None:
                raise Forbidden("You do not share this chat with this user")
            key = target_key(USER, target, None)
            found = await store.open_report_of(conn, reporter, key)
            if found is not None:
                return Filed(found, False)
            latest, _more = await repo.message_page(conn, chat.id, None, LATEST)
            snapshot, media = self._snapshot(None, latest)
            report = self._new(reporter, USER, target, None, chat.id, reason, note)
            return await self._file(conn, report, key, snapshot, media)

        return await self.db.write(work)

    async def open_automatic(self, message: Message, reason: str, note: str | None) -> Filed | None:
        """A report by SYSTEM of `message` (committed) and its sender: contact details
        masked in it (reason off_platform), or a moderation rule's `flag`. Folded into the
        open automatic report of the same message; None when the message is gone."""

        async def work(conn: AsyncConnection) -> Filed | None:
            current = await repo.message_by_id(conn, message.id)
            if current is None or current.deleted_at is not None:
                return None
            chat = await repo.chat_by_id(conn, current.chat_id)
            if chat is None:  # pragma: no cover - chats are never deleted
                return None
            return await self._message_report(conn, SYSTEM_USER, current, chat, reason, note)

        return await self.db.write(work)

    def masked(self, message: Message) -> None:
        """Contact details were masked in `message` (committed): its automatic report is
        opened beside the send path, which does not wait for it."""
        self._beside(self._automatic(message, [(OFF_PLATFORM, MASKED_NOTE)]))

    def flagged(self, message: Message, notes: list[str], *, contacts: bool = False) -> None:
        """Moderation rules that mask or flag matched `message` (committed), `notes`
        naming each: its automatic report, beside the send path. One report per message
        (as every automatic one): reason inappropriate, or off_platform when contact
        details were masked in it as well; its note names every rule."""
        reason = OFF_PLATFORM if contacts else INAPPROPRIATE
        said = "; ".join([MASKED_NOTE, *notes] if contacts else notes)
        note = said if len(said) <= NOTE_LENGTH else said[: NOTE_LENGTH - 1] + "…"
        self._beside(self._automatic(message, [(reason, note)]))

    def _beside(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _automatic(self, message: Message, reports: list[tuple[str, str]]) -> None:
        for reason, note in reports:
            try:
                await self.open_automatic(message, reason, note)
            except Exception:
                log.exception("opening the automatic report of message %s failed", message.id)

    async def idle(self) -> None:
        """The automatic reports under way, written (before the database closes)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    # --- one report --------------------------------------------------------------------

    async def _message_report(
        self,
        conn: AsyncConnection,
        reporter: User,
        message: Message,
        chat: Chat,
        reason: str,
        note: str | None,
    ) -> Filed:
        key = target_key(MESSAGE, message.sender, message.id)
        found = await store.open_report_of(conn, reporter, key)
        if found is not None:
            return Filed(found, False)
        context = await store.around(conn, message, AROUND)
        versions = (await admin_queries.versions_of(conn, [message.id])).get(message.id, [])
        shown = self.render(message) | {
            "originalText": await store.original_text(conn, message.id),
            # Oldest first: each text the message read before an edit replaced it.
            "versions": [
                {
                    "text": v.text,
                    "editedAt": iso(v.written_at) if v.version > 1 else None,
                    "writtenAt": iso(v.written_at),
                    "replacedAt": iso(v.replaced_at),
                }
                for v in versions
            ],
        }
        snapshot, media = self._snapshot(shown, [message, *context])
        report = self._new(reporter, MESSAGE, message.sender, message.id, chat.id, reason, note)
        return await self._file(conn, report, key, snapshot, media)

    def _snapshot(
        self, shown: dict[str, Any] | None, messages: list[Message]
    ) -> tuple[dict[str, Any], list[tuple[str, Media]]]:
        """The snapshot (the message, its context oldest first, the media they show) and
        the stored files it shows, each with its message's id."""
        context = messages[1:] if shown is not None else messages
        rendered = {m.id: self.render(m) for m in context}
        media: list[dict[str, Any]] = []
        keys: list[tuple[str, Media]] = []
        for m in messages:
            for item in m.media:
                media.append({"messageId": m.id, "mediaId": item.id, "mimeType": item.mime_type})
                keys.append((m.id, item))
        snapshot = {
            "message": shown,
            "context": sorted(rendered.values(), key=lambda body: int(body["seq"])),
            "media": media,
        }
        return snapshot, keys

    def _new(
        self,
        reporter: User,
        kind: str,
        target: User,
        message_id: str | None,
        chat_id: str,
        reason: str,
        note: str | None,
    ) -> Report:
        automatic = reporter == SYSTEM_USER
        return Report(
            new_id(),
            OPEN,
            reason,
            note,
            automatic,
            reporter,
            kind,
            target,
            message_id,
            chat_id,
            now_ms(),
        )

    async def _file(
        self,
        conn: AsyncConnection,
        report: Report,
        key: str,
        snapshot: dict[str, Any],
        media: list[tuple[str, Media]],
    ) -> Filed:
        if not await store.insert_report(conn, report, key, snapshot, media):
            # A concurrent duplicate committed first: answer with it.
            found = await store.open_report_of(conn, report.reporter, key)
            if found is None:  # pragma: no cover - it was resolved in between
                raise NotFound("Report not found")
            return Filed(found, False)
        counts = await store.open_against(conn, [report.target_user])
        report = replace(report, target_open_reports=counts.get(report.target_user, 0))
        if self.webhooks:
            await outbox.insert(conn, report_created(report_json(report), report.created_at))
        return Filed(report, True)
