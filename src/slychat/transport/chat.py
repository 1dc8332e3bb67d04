"""The /chat namespace: the events of the user's document, plus syncMessages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slychat.container import Container
from slychat.errors import AppError, Invalid, Unavailable
from slychat.identity import Role, User
from slychat.services.events import delivered
from slychat.services.presence import CHAT
from slychat.services.sync import SyncPage
from slychat.transport import schemas, wire
from slychat.transport.base import Namespace, Session
from slychat.transport.handshake import authenticate
from slychat.transport.presenter import Presenter
from slychat.transport.rooms import user_room

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
        }
    )

    def __init__(self, path: str, container: Container) -> None:
        super().__init__(path, container)
        self.present = Presenter(self, container.cursors, container.media_store.url)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        credentials = authenticate(self.c, environ, auth, _CHAT_ROLES)
        user = credentials.user
        await self.refuse_over_cap(user, CHAT)
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
        await self.c.presence.chat_closed(session.user, sid)

    async def _open(self, sid: str, session: Session, since: str | None) -> None:
        try:
            await self._handshake(sid, session, since)
            session.opened(True)
        except Exception as exc:
            session.opened(False)
            # Without its chats the socket is no use: say why, and let the client retry.
            if not isinstance(exc, AppError):
                log.exception("the /chat handshake of %s failed", session.user.key)
                exc = Unavailable()
            if session.alive:
                await self.fail(sid, exc)
                await self.disconnect(sid)

    async def _handshake(self, sid: str, session: Session, since: str | None) -> None:
        user = session.user
        online = await self.c.presence.wait_online(
            user, self.c.settings.presence_grace, lambda: session.alive
        )
        if not session.alive:
            raise Invalid("The connection closed during its handshake")
        if not online:
            raise Invalid("Connect to the presence namespace first")
        # Join the user room before anything is read, so that a message committed after
        # the reads below is emitted to this socket rather than missed.
        await self.enter_room(sid, user_room(user))
        await self.c.presence.chat_opened(user, sid)
        chats = await self.c.chats.list_chats(user)
        body = self.present.chats("Chats have been sent successfully", user, chats)
        await self.emit("userChats", body, to=sid)
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
            view, read = await self.c.chats.open_chat(session.user, p.ref(), p.cursor(), p.limit)
            if read is not None:
                await self.present.publish([read])
            body = wire.ok("Chats has been loaded", self.present.chat(view, session.user))
            await self.emit("loadMessages", body, to=sid)
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
        chats = await self.c.chats.list_chats(session.user, p.before, p.limit)
        body = self.present.chats("Chats has been sent successfully", session.user, chats)
        await self.emit("userChats", body, to=sid)
        # The envelope's own top-level fields stay where clients read them on userChats.
        top = {"syncCursor": body["syncCursor"], "totalUnread": body["totalUnread"]}
        return self.present.confirm(body, chats.views, chats.has_more, **top) | top

    async def on_sendMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SendMessage) -> wire.Json:
            command = p.command(self.c.settings.max_text_length)
            sent = await self.c.messages.send(session.user, command)
            await self.present.publish(sent.events)
            return wire.ok(
                "Message has been sent", self.present.message(sent.message, session.user)
            )

        return await self.handle(sid, args, schemas.SendMessage, action)

    async def on_markAsRead(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.MarkAsRead) -> wire.Json:
            read = await self.c.chats.mark_read(session.user, p.ref())
            await self.present.publish([read])
            return self.present.read(read)

        return await self.handle(sid, args, schemas.MarkAsRead, action)

    async def on_deleteMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.DeleteMessage) -> wire.Json:
            deleted = await self.c.messages.delete(session.user, p.messageId, p.ref())
            await self.present.publish([deleted])
            return self.present.deleted(deleted)

        return await self.handle(sid, args, schemas.DeleteMessage, action)

    async def on_typing(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid,
            args,
            schemas.Typing,
            lambda s, p: self._typing(s, p, "userTyping", "User is typing"),
        )

    async def on_stoppedTyping(self, sid: str, *args: Any) -> wire.Json | None:
        return await self.handle(
            sid,
            args,
            schemas.Typing,
            lambda s, p: self._typing(s, p, "stoppedTyping", "User has stopped typing"),
        )

    async def _typing(
        self, session: Session, p: schemas.Typing, event: str, text: str
    ) -> wire.Json:
        sender = session.user
        chat_id = await self.c.messages.typing_chat(sender, p.ref())
        body = wire.ok(
            text,
            {
                "chatId": chat_id,
                "productId": p.productId,
                "senderId": sender.id,
                "senderType": sender.role.value,
            },
        )
        await self.emit(event, body, room=user_room(User(sender.role.counterpart, p.recipientId)))
        return body

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
        page = await self.c.sync.sync(user, self.c.cursors.decode(since, user), limit)
        body = self.present.sync(user, page)
        await self.emit("syncMessages", body, to=sid)
        await self.present.publish(delivered(list(page.delivered)))
        return body, page

    async def on_getOfflineMessages(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, _p: schemas.Payload) -> wire.Json:
            body = await self._send_offline(sid, session.user, empty=False)
            return self.present.confirm(body, body["data"], body["hasMore"])

        return await self.handle(sid, args, schemas.Payload, action)

    async def _send_offline(self, sid: str, user: User, *, empty: bool) -> wire.Json:
        """The next batch of undelivered messages; `hasMore` asks for getOfflineMessages."""
        offline, more = ([], False) if empty else await self.c.messages.take_offline(user)
        body = self.present.offline(user, offline, more)
        await self.emit("offlineMessages", body, to=sid)
        await self.present.publish(delivered(offline))
        return body
