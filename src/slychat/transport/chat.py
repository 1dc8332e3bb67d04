"""The /chat namespace: the events of the user's document, plus syncMessages."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from slychat.errors import AppError, Invalid, TooLarge, Unavailable
from slychat.identity import Role, User
from slychat.ids import iso
from slychat.models import ChatDetails, ChatView, Message
from slychat.services.chats import ChatList, ReadReceipt
from slychat.services.messages import SendCommand
from slychat.services.sync import Position, SyncPage
from slychat.transport import schemas, wire
from slychat.transport.base import Namespace, Session
from slychat.transport.handshake import authenticate
from slychat.transport.rooms import chat_room, user_room

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

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        user = authenticate(self.c.tokens, environ, auth, _CHAT_ROLES)
        session = Session(user)
        self.sessions[sid] = session
        since = auth.get("syncCursor") if isinstance(auth, dict) else None
        # The rest needs the connection accepted first, and may wait for /presence.
        session.spawn(self._open(sid, session, since if isinstance(since, str) else None))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.alive.clear()
        await self.c.presence.chat_closed(session.user, sid)

    async def _open(self, sid: str, session: Session, since: str | None) -> None:
        async with session.lock:
            try:
                await self._handshake(sid, session, since)
            except Exception as exc:
                # Without its chats the socket is no use: say why, and let the client retry.
                if not isinstance(exc, AppError):
                    log.exception("the /chat handshake of %s failed", session.user.key)
                    exc = Unavailable()
                if session.alive.is_set():
                    await self.fail(sid, exc)
                    await self.disconnect(sid)

    async def _handshake(self, sid: str, session: Session, since: str | None) -> None:
        user = session.user
        online = await self.c.presence.wait_online(
            user, self.c.settings.presence_grace, session.alive
        )
        if not session.alive.is_set():
            return
        if not online:
            raise Invalid("Connect to the presence namespace first")
        # Join the user room before anything is read, so that a message committed after
        # the reads below is emitted to this socket rather than missed.
        await self.enter_room(sid, user_room(user))
        await self.c.presence.chat_opened(user, sid)
        await self._join_chat_rooms(sid, user)
        chats = await self.c.chats.list_chats(user)
        await self.emit(
            "userChats", self._chats("Chats have been sent successfully", user, chats), to=sid
        )
        synced = False
        if since is not None and session.alive.is_set():
            # A reconnecting client catches up from its cursor; its missed messages
            # come in the sync, so offlineMessages does not repeat them.
            page = await self._sync(sid, user, since, None)
            synced = not page.reset
        if session.alive.is_set():
            await self._send_offline(sid, user, empty=synced)
        session.ready = True

    async def _join_chat_rooms(self, sid: str, user: User) -> None:
        for chat_id in await self.c.chats.chat_ids(user):
            await self.enter_room(sid, chat_room(chat_id))

    # --- presenting -----------------------------------------------------------------------

    def _cursor_of(self, viewer: User) -> wire.CursorOf:
        def cursor(m: Message) -> str | None:
            pos = m.feed_pos(viewer)
            return (
                None if pos is None else self.c.cursors.encode(viewer, Position(pos, m.created_at))
            )

        return cursor

    def _message(self, m: Message, viewer: User) -> wire.Json:
        return wire.message(m, self._cursor_of(viewer)(m))

    def _chats(self, text: str, viewer: User, chats: ChatList) -> wire.Json:
        cursor_of = self._cursor_of(viewer)
        return wire.ok(text, [wire.chat(v, cursor_of) for v in chats.views]) | {
            "totalUnread": chats.total_unread,
            "syncCursor": self.c.cursors.encode(viewer, chats.head),
        }

    async def _tell_delivered(self, delivered: Iterable[Message]) -> None:
        """`messagesDelivered` to the senders of messages that just reached their recipient."""
        by_chat: dict[tuple[str, User], list[Message]] = defaultdict(list)
        for m in delivered:
            by_chat[(m.chat_id, m.sender)].append(m)
        for (chat_id, sender), group in by_chat.items():
            data = {
                "chatId": chat_id,
                "messageIds": [m.id for m in group],
                "deliveredAt": iso(group[0].delivered_at),
            }
            await self.emit(
                "messagesDelivered", wire.ok("Messages delivered", data), room=user_room(sender)
            )

    async def _enter_users_into(self, room: str, users: Iterable[User]) -> None:
        """Put every local socket of `users` into `room` (a new chat's room)."""
        for user in users:
            for sid, _eio_sid in self.server.manager.get_participants(
                self.namespace, user_room(user)
            ):
                await self.enter_room(sid, room)

    # --- client events --------------------------------------------------------------------

    async def on_joinChat(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.JoinChat) -> wire.Json:
            view, receipt = await self.c.chats.open_chat(session.user, p.ref(), p.cursor(), p.limit)
            await self.enter_room(sid, chat_room(view.chat.id))
            if receipt is not None:
                await self._emit_receipt(receipt)
            body = wire.ok("Chats has been loaded", wire.chat(view, self._cursor_of(session.user)))
            await self.emit("loadMessages", body, to=sid)
            return body

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
        await self._join_chat_rooms(sid, session.user)
        chats = await self.c.chats.list_chats(session.user, p.before, p.limit)
        body = self._chats("Chats has been sent successfully", session.user, chats)
        await self.emit("userChats", body, to=sid)
        return body

    async def on_sendMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SendMessage) -> wire.Json:
            sender = session.user
            recipient = User(sender.role.counterpart, p.recipientId)
            sent = await self.c.messages.send(
                sender,
                SendCommand(
                    product_id=p.productId,
                    recipient_id=p.recipientId,
                    text=_message_text(p.text, self.c.settings.max_text_length),
                    client_message_id=p.clientMessageId,
                    details=ChatDetails(
                        product_image_url=p.productImageUrl,
                        product_price=p.productPrice,
                        product_name=p.productName,
                        store_logo_url=p.storeLogoUrl,
                        customer_profile_pic=p.customerProfilePic,
                        customer_name=p.customerName,
                        store_name=p.storeName,
                    ),
                ),
                recipient_online=await self.c.presence.is_online(recipient),
                reachable=await self.c.presence.has_chat_socket(recipient),
            )
            ack = wire.ok("Message has been sent", self._message(sent.message, sender))
            if sent.duplicate:  # a retry: answer it, broadcast nothing again
                return ack
            if sent.created:
                await self._enter_users_into(chat_room(sent.chat.id), (sender, recipient))
                view = ChatView(sent.chat, [sent.message], unread_count=1)
                await self.emit(
                    "newChat",
                    {
                        "statusCode": 200,
                        "error": False,
                        "message": wire.chat(view, self._cursor_of(recipient)),
                        "data": {},
                    },
                    room=user_room(recipient),
                )
            else:
                await self._emit_received(sent.message, recipient)
            # Each party's copy carries that party's own syncCursor, so the rooms differ.
            await self._emit_received(sent.message, sender)
            if sent.message.delivered_at is not None:
                await self._tell_delivered([sent.message])
            return ack

        return await self.handle(sid, args, schemas.SendMessage, action)

    async def _emit_received(self, m: Message, viewer: User) -> None:
        body = {
            "statusCode": 200,
            "error": False,
            "message": None,
            "data": [self._message(m, viewer)],
        }
        await self.emit("receiveMessage", body, room=user_room(viewer))

    async def on_markAsRead(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.MarkAsRead) -> wire.Json:
            return await self._emit_receipt(await self.c.chats.mark_read(session.user, p.ref()))

        return await self.handle(sid, args, schemas.MarkAsRead, action)

    async def _emit_receipt(self, r: ReadReceipt) -> wire.Json:
        """`updateReadReceipts` to the party whose messages were read."""
        body = wire.ok(
            "Messages marked as read",
            {
                "chatId": r.chat_id,
                "readerId": r.reader.id,
                "readerType": r.reader.role.value,
                "readAt": iso(r.read_at),
                "messageIds": r.message_ids,
            },
        )
        await self.emit("updateReadReceipts", body, room=user_room(r.counterpart))
        return body

    async def on_deleteMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.DeleteMessage) -> wire.Json:
            d = await self.c.messages.delete(session.user, p.messageId, p.ref())
            body = wire.ok(
                "Message has been deleted successfully",
                {
                    "chatId": d.chat.id,
                    "messageId": d.message.id,
                    "deletedAt": iso(d.deleted_at),
                },
            )
            await self.emit(
                "messageDeleted",
                body,
                room=[chat_room(d.chat.id), user_room(d.chat.vendor), user_room(d.chat.customer)],
            )
            return body

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
            page = await self._sync(sid, session.user, p.since, p.limit)
            return self._sync_body(session.user, page)

        return await self.handle(sid, args, schemas.SyncMessages, action)

    async def _sync(self, sid: str, user: User, since: str, limit: int | None) -> SyncPage:
        page = await self.c.sync.sync(user, self.c.cursors.decode(since, user), limit)
        await self.emit("syncMessages", self._sync_body(user, page), to=sid)
        await self._tell_delivered(page.delivered)
        return page

    def _sync_body(self, user: User, page: SyncPage) -> wire.Json:
        cursor_of = self._cursor_of(user)
        changes = [c for c in (wire.change(e, cursor_of) for e in page.changes) if c is not None]
        data: wire.Json = {
            "changes": changes,
            "hasMore": page.has_more,
            "syncCursor": self.c.cursors.encode(user, page.position),
        }
        if page.reset:
            data["reset"] = True
        return wire.ok("Changes have been sent successfully", data)

    async def on_getOfflineMessages(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, _p: schemas.Payload) -> wire.Json:
            return await self._send_offline(sid, session.user, empty=False)

        return await self.handle(sid, args, schemas.Payload, action)

    async def _send_offline(self, sid: str, user: User, *, empty: bool) -> wire.Json:
        """The next batch of undelivered messages; `hasMore` asks for getOfflineMessages."""
        offline, more = ([], False) if empty else await self.c.messages.take_offline(user)
        body = wire.ok(
            "Offline messages has been sent successfully", [self._message(m, user) for m in offline]
        ) | {"hasMore": more}
        await self.emit("offlineMessages", body, to=sid)
        await self._tell_delivered(offline)
        return body


def _message_text(text: str | None, limit: int) -> str:
    if text is None or not text.strip():
        raise Invalid("Invalid data provided: text is required")
    if len(text) > limit:
        raise TooLarge(f"text is longer than {limit} characters")
    return text
