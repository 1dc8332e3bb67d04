"""The /chat namespace: the original system's chat events, and syncMessages (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from slychat.container import Container
from slychat.domain.errors import AppError, Invalid, Unavailable
from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.protocol import inbound as schemas
from slychat.protocol import outbound as wire
from slychat.protocol.rooms import user_room
from slychat.realtime.feed_order import FeedOrder
from slychat.services.sync import Position, SyncPage
from slychat.sockets.base import Namespace, Session
from slychat.sockets.presenter import Presenter
from slychat.sockets.tokens import authenticate

log = logging.getLogger(__name__)
_CHAT_ROLES = frozenset({Role.CUSTOMER, Role.VENDOR})


class ChatNamespace(Namespace):
    events = frozenset(
        {
            "joinChat",
            "joinRooms",
            "getUserChats",
            "sendMessage",
            "markAsRead",
            "deleteMessage",
            "typing",
            "stoppedTyping",
            "syncMessages",
            "getOfflineMessages",
            "editMessage",
            "addReaction",
            "removeReaction",
            "updateChatSettings",
            "searchMessages",
            "blockUser",
            "unblockUser",
            "getBlockedUsers",
            "reportMessage",
            "reportUser",
        }
    )

    def __init__(
        self, path: str, container: Container, present: Presenter, order: FeedOrder
    ) -> None:
        super().__init__(path, container, present)
        # What each socket here was sent of its feed, for catching up after a fan-out
        # break (realtime/feed_order.py); the presenter caps cursors at its holds.
        self.order = order
        self.catch_up_pages = 0  # syncMessages pages pushed after a fan-out break
        fanout = container.fanout
        if fanout.outage is not None:  # between nodes: the fan-out can break
            fanout.delivered = self._delivered
            fanout.prepare = self._prepare
            fanout.on_break = self._fanout_broke
            fanout.on_resume = self._fanout_resumed
        self._catching_up: asyncio.Task[None] | None = None

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        credentials = authenticate(self.container, environ, auth, _CHAT_ROLES)
        user = credentials.user
        await self.refuse_over_cap(sid, user)
        session = Session(
            user,
            asyncio.get_running_loop().create_future(),
            expires_at=credentials.honoured_until,
            token_id=credentials.token_id,
        )
        self.sessions[sid] = session
        since = auth.get("syncCursor") if isinstance(auth, dict) else None
        # The rest needs the connection accepted first, and may wait for /presence.
        self.spawn(self._open(sid, session, since if isinstance(since, str) else None), user)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.alive = False
        self.order.closed(sid)
        await self.container.presence.chat_closed(session.user, sid)

    async def _open(self, sid: str, session: Session, since: str | None) -> None:
        try:
            await self._welcome(sid, session, since)
            session.opened(True)
        except Exception as exc:
            session.opened(False)
            # Without its chats the socket is no use: say why, and let the client retry.
            if not isinstance(exc, AppError):
                log.exception("opening the /chat socket of %s failed", session.user.key)
                exc = Unavailable()
            if session.alive:
                await self.fail(sid, exc)
                await self.disconnect(sid)

    async def _welcome(self, sid: str, session: Session, since: str | None) -> None:
        """What follows an admitted handshake: wait for /presence, join the user room, then
        userChats, the first sync page (with a cursor) and offlineMessages."""
        user = session.user
        online = await self.container.presence.wait_online(
            user, self.container.settings.presence_grace, lambda: session.alive
        )
        if not session.alive:
            raise Invalid("The connection closed during its handshake")
        if not online:
            raise Invalid("Connect to the presence namespace first")
        # Join the user room before anything is read, so that a message committed after
        # the reads below is emitted to this socket rather than missed.
        await self.enter_room(sid, user_room(user))
        await self.container.presence.chat_opened(user, sid)
        chats = await self.container.chats.list_chats(user)
        await self.present.user_chats(sid, "Chats have been sent successfully", user, chats)
        # Everything up to the head read for userChats: the socket's start in its feed.
        self.order.opened(sid, user, chats.head.pos)
        synced = False
        if since is not None and session.alive:
            # A reconnecting client catches up from its cursor; its missed messages
            # come in the sync, so offlineMessages does not repeat them.
            _body, page = await self._sync(sid, user, since, None)
            synced = not page.reset
        if session.alive:
            await self._send_offline(sid, user, empty=synced)

    # --- client events --------------------------------------------------------------------

    async def on_joinChat(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.JoinChat) -> wire.Json:
            view, _read = await self.container.chats.open_chat(
                session.user, p.ref(), p.cursor(), p.limit
            )
            body = await self.present.load_messages(sid, session.user, view)
            return self.present.confirm(body, view.messages, view.has_more, chatId=view.chat.id)

        return await self.handle(sid, args, schemas.JoinChat, action)

    async def on_joinRooms(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid, args, schemas.GetUserChats, lambda s, p: self._send_chats(sid, s, p)
        )

    async def on_getUserChats(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid, args, schemas.GetUserChats, lambda s, p: self._send_chats(sid, s, p)
        )

    async def _send_chats(self, sid: str, session: Session, p: schemas.GetUserChats) -> wire.Json:
        chats = await self.container.chats.list_chats(session.user, p.before, p.limit, p.archived)
        body = await self.present.user_chats(
            sid, "Chats has been sent successfully", session.user, chats
        )
        # The envelope's own top-level fields stay where clients read them on userChats.
        top = {"syncCursor": body["syncCursor"], "totalUnread": body["totalUnread"]}
        return self.present.confirm(body, chats.views, chats.has_more, **top) | top

    async def on_sendMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SendMessage) -> wire.Json:
            sent = await self.container.messages.send(session.user, p.command())
            return self.present.sent(sent.message, session.user)

        return await self.handle(sid, args, schemas.SendMessage, action)

    async def on_editMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.EditMessage) -> wire.Json:
            edited = await self.container.messages.edit(session.user, p.messageId, p.text)
            return self.present.edited(edited.message, session.user)

        return await self.handle(sid, args, schemas.EditMessage, action)

    async def on_addReaction(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.AddReaction) -> wire.Json:
            return await self._react(session, p.messageId, p.emoji)

        return await self.handle(sid, args, schemas.AddReaction, action)

    async def on_removeReaction(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.RemoveReaction) -> wire.Json:
            return await self._react(session, p.messageId, None)

        return await self.handle(sid, args, schemas.RemoveReaction, action)

    async def _react(self, session: Session, message_id: str, emoji: str | None) -> wire.Json:
        reacted = await self.container.messages.react(session.user, message_id, emoji)
        return wire.reactions_body(reacted.chat_id, reacted.message_id, reacted.reactions)

    async def on_updateChatSettings(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.UpdateChatSettings) -> wire.Json:
            settings, _changed = await self.container.chats.update_settings(
                session.user, p.chatId, p.muted, p.archived
            )
            return wire.settings_body(p.chatId, settings)

        return await self.handle(sid, args, schemas.UpdateChatSettings, action)

    async def on_markAsRead(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.MarkAsRead) -> wire.Json:
            return wire.read(await self.container.chats.mark_read(session.user, p.ref()))

        return await self.handle(sid, args, schemas.MarkAsRead, action)

    async def on_deleteMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.DeleteMessage) -> wire.Json:
            deleted = await self.container.messages.delete(session.user, p.messageId, p.ref())
            return wire.deleted(deleted)

        return await self.handle(sid, args, schemas.DeleteMessage, action)

    async def on_typing(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid, args, schemas.Typing, lambda s, p: self._typing(s, p, stopped=False)
        )

    async def on_stoppedTyping(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid, args, schemas.Typing, lambda s, p: self._typing(s, p, stopped=True)
        )

    async def _typing(self, session: Session, p: schemas.Typing, *, stopped: bool) -> wire.Json:
        notice = await self.container.messages.typing(session.user, p.ref(), stopped=stopped)
        return wire.typing(notice)

    async def on_syncMessages(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SyncMessages) -> wire.Json:
            body, page = await self._sync(sid, session.user, p.since, p.limit)
            extra = {"syncCursor": body["data"]["syncCursor"]}
            if page.reset:
                extra["reset"] = True
            return self.present.confirm(body, body["data"]["changes"], page.has_more, **extra)

        return await self.handle(sid, args, schemas.SyncMessages, action)

    async def _sync(
        self, sid: str, user: User, since: str, limit: int | None
    ) -> tuple[wire.Json, SyncPage]:
        page = await self.container.sync.sync(
            user, self.container.cursors.decode(since, user), limit
        )
        return await self.present.sync_messages(sid, user, page), page

    async def on_searchMessages(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SearchMessages) -> wire.Json:
            user = session.user
            after = p.after(self.container.cursors, user)
            page = await self.container.search.search(user, p.words(), p.chatId, after, p.limit)
            body = await self.present.search_messages(sid, user, page)
            data = body["data"]
            return self.present.confirm(body, data["messages"], data["hasMore"], next=data["next"])

        return await self.handle(sid, args, schemas.SearchMessages, action)

    async def on_blockUser(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.BlockUser) -> wire.Json:
            block = await self.container.blocks.block(session.user, p.user())
            return wire.block_body(block.blocked, block)

        return await self.handle(sid, args, schemas.BlockUser, action)

    async def on_unblockUser(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.BlockUser) -> wire.Json:
            await self.container.blocks.unblock(session.user, p.user())
            return wire.block_body(p.user(), None)

        return await self.handle(sid, args, schemas.BlockUser, action)

    async def on_getBlockedUsers(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, _p: schemas.GetBlockedUsers) -> wire.Json:
            blocks = await self.container.blocks.blocked_by(session.user)
            body = await self.present.blocked_users(sid, blocks)
            return self.present.confirm(body, blocks, False)

        return await self.handle(sid, args, schemas.GetBlockedUsers, action)

    async def on_reportMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.ReportMessage) -> wire.Json:
            filed = await self.container.reports.report_message(
                session.user, p.messageId, p.reason, p.note
            )
            return wire.report_received(filed.report, created=filed.created)

        return await self.handle(sid, args, schemas.ReportMessage, action)

    async def on_reportUser(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.ReportUser) -> wire.Json:
            filed = await self.container.reports.report_user(
                session.user, p.target(), p.reason, p.note, p.chatId
            )
            return wire.report_received(filed.report, created=filed.created)

        return await self.handle(sid, args, schemas.ReportUser, action)

    # --- the fan-out between nodes broke and came back -----------------------------------

    def _delivered(self, _event: str, data: Any, sids: list[str]) -> None:
        """A message reached `sids` (one user's sockets): noted at its feed position."""
        user = next(filter(None, map(self.order.user_of, sids)), None)
        try:
            message = data["data"][0]
            position = self.container.cursors.decode(message["syncCursor"], user) if user else None
        except (KeyError, IndexError, TypeError):
            return
        if position is None:
            return
        for sid in sids:
            self.order.sent(sid, position.pos, message["id"])

    def _prepare(self, _event: str, data: Any, sids: list[str]) -> tuple[Any, list[str]]:
        """A message for `sids` (one user's sockets): only for those not sent it yet (a
        publish Redis delivers late may repeat a catch-up's page), and its cursor capped
        at their hold if some are held: the node that wrote it (another, maybe) does not
        know of this node's holds."""
        try:
            message = data["data"][0]
            message_id = message["id"]
        except (KeyError, IndexError, TypeError):
            return data, sids
        sids = self.order.unsent(sids, message_id)
        user = next(filter(None, map(self.order.user_of, sids)), None)
        hold = None if user is None else self.order.hold_of(user)
        if user is None or hold is None:
            return data, sids
        try:
            position = self.container.cursors.decode(message["syncCursor"], user)
        except (KeyError, TypeError):
            return data, sids
        if position is None or position.pos <= hold:
            return data, sids
        capped = self.container.cursors.encode(user, Position(hold, now_ms()))
        return data | {"data": [message | {"syncCursor": capped}, *data["data"][1:]]}, sids

    def _fanout_broke(self, since: float) -> None:
        self.order.broken = True
        held = self.order.hold_all(since)
        log.warning("fan-out broken: %d sockets held until it is back", held)

    async def _fanout_resumed(self, since: float) -> None:
        """Push every held socket what it missed; beside the listener, never in it."""
        self.order.broken = False
        self.order.hold_all(since)  # a peer's dropped publishes: nothing was held yet
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up_all())

    async def _catch_up_all(self) -> None:
        pushed = 0
        while not self.order.broken and (held := self.order.held()):
            for sid, user, hold, _seen in held:
                try:
                    pushed += await self._catch_up(sid, user, hold)
                except Unavailable:
                    await asyncio.sleep(1.0)  # storage is away too: its outage is logged
                except Exception:
                    log.exception("catching up the socket of %s failed", user.key)
                    self.order.caught_up(sid, hold)  # its client's own sync covers it
        log.info("fan-out back: %d syncMessages pages pushed", pushed)

    async def _catch_up(self, sid: str, user: User, hold: int) -> int:
        """The changes after `hold` that `sid` was not sent, pushed as syncMessages pages
        with `pushed: true`, in feed order; then the socket is released. How many pages."""
        since = Position(hold, now_ms())
        pages = 0
        while True:
            page = await self.container.sync.sync(user, since)
            if page.reset or self.order.user_of(sid) is None:  # closed meanwhile
                break
            seen = self.order.seen(sid)
            missed = [e for e in page.changes if e.message is None or e.message.id not in seen]
            if missed:
                # Noted before the push, which may wait: the same message arriving live
                # meanwhile is not sent again, and a later hold (a peer's resync) skips it.
                for e in missed:
                    if e.message is not None:
                        self.order.sent(sid, e.pos, e.message.id)
                await self.present.sync_messages(
                    sid, user, replace(page, changes=missed), pushed=True
                )
                pages += 1
                self.catch_up_pages += 1
            since = page.position
            if not page.has_more:
                break
        self.order.caught_up(sid, since.pos)
        return pages

    async def on_getOfflineMessages(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, _p: schemas.Payload) -> wire.Json:
            body = await self._send_offline(sid, session.user, empty=False)
            return self.present.confirm(body, body["data"], body["hasMore"])

        return await self.handle(sid, args, schemas.Payload, action)

    async def _send_offline(self, sid: str, user: User, *, empty: bool) -> wire.Json:
        """The next batch of undelivered messages; `hasMore` asks for getOfflineMessages."""
        offline, more = ([], False) if empty else await self.container.messages.take_offline(user)
        return await self.present.offline_messages(sid, user, offline, more)
