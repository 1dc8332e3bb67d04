"""The /chat namespace: the events of the user's document."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from slychat.errors import Invalid, TooLarge
from slychat.identity import Role, User
from slychat.ids import iso
from slychat.models import ChatDetails, ChatView, Message
from slychat.services.chats import ReadReceipt
from slychat.services.messages import SendCommand
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
        }
    )

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        user = authenticate(self.c.tokens, environ, auth, _CHAT_ROLES)
        session = Session(user)
        self.sessions[sid] = session
        # The rest needs the connection accepted first, and may wait for /presence.
        session.spawn(self._open(sid, session))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.alive.clear()
        await self.c.presence.chat_closed(session.user, sid)

    async def _open(self, sid: str, session: Session) -> None:
        user = session.user
        async with session.lock:
            online = await self.c.presence.wait_online(
                user, self.c.settings.presence_grace, session.alive
            )
            if not session.alive.is_set():
                return
            if not online:
                await self.fail(sid, Invalid("Connect to the presence namespace first"))
                await self.disconnect(sid)
                return
            # Join the user room before anything is read, so that a message committed after
            # the reads below is emitted to this socket rather than missed.
            await self.enter_room(sid, user_room(user))
            await self.c.presence.chat_opened(user, sid)
            await self._join_chat_rooms(sid, user)
            views = await self.c.chats.list_chats(user)
            await self.emit(
                "userChats", _chats_envelope("Chats have been sent successfully", views), to=sid
            )
            if not session.alive.is_set():
                return
            offline = await self.c.messages.take_offline(user)
            await self.emit(
                "offlineMessages",
                wire.ok(
                    "Offline messages has been sent successfully",
                    [wire.message(m) for m in offline],
                ),
                to=sid,
            )
            await self._tell_delivered(offline)
            session.ready = True

    async def _join_chat_rooms(self, sid: str, user: User) -> None:
        for chat_id in await self.c.chats.chat_ids(user):
            await self.enter_room(sid, chat_room(chat_id))

    async def _enter_users_into(self, room: str, users: tuple[User, ...]) -> None:
        """Put every local socket of `users` into `room` (a new chat's room)."""
        for user in users:
            for sid, _eio_sid in self.server.manager.get_participants(
                self.namespace, user_room(user)
            ):
                await self.enter_room(sid, room)

    async def _tell_delivered(self, delivered: list[Message]) -> None:
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

    # --- client events --------------------------------------------------------------------

    async def on_joinChat(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.JoinChat) -> wire.Json:
            view, receipt = await self.c.chats.open_chat(session.user, p.ref(), p.cursor(), p.limit)
            await self.enter_room(sid, chat_room(view.chat.id))
            if receipt is not None:
                await self._emit_receipt(receipt)
            body = wire.ok("Chats has been loaded", wire.chat(view))
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
        views = await self.c.chats.list_chats(session.user, p.before, p.limit)
        body = _chats_envelope("Chats has been sent successfully", views)
        await self.emit("userChats", body, to=sid)
        return body

    async def on_sendMessage(self, sid: str, *args: Any) -> wire.Json | None:
        async def action(session: Session, p: schemas.SendMessage) -> wire.Json:
            sender = session.user
            text = _message_text(p.text, self.c.settings.max_text_length)
            recipient = User(sender.role.counterpart, p.recipientId)
            sent = await self.c.messages.send(
                sender,
                SendCommand(
                    product_id=p.productId,
                    recipient_id=p.recipientId,
                    text=text,
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
            out = wire.message(sent.message)
            if sent.duplicate:  # a retry: answer it, broadcast nothing again
                return wire.ok("Message has been sent", out)
            received = {"statusCode": 200, "error": False, "message": None, "data": [out]}
            room = chat_room(sent.chat.id)
            if sent.created:
                await self._enter_users_into(room, (sender, recipient))
                view = ChatView(sent.chat, [sent.message], unread_count=1)
                new_chat = {
                    "statusCode": 200,
                    "error": False,
                    "message": wire.chat(view),
                    "data": {},
                }
                await self.emit("newChat", new_chat, room=user_room(recipient))
                await self.emit("receiveMessage", received, room=user_room(sender))
            else:
                await self.emit(
                    "receiveMessage", received, room=[room, user_room(sender), user_room(recipient)]
                )
            if sent.message.delivered_at is not None:
                await self._tell_delivered([sent.message])
            return wire.ok("Message has been sent", out)

        return await self.handle(sid, args, schemas.SendMessage, action)

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


def _chats_envelope(message: str, views: list[ChatView]) -> wire.Json:
    return wire.ok(message, [wire.chat(v) for v in views])


def _message_text(text: str | None, limit: int) -> str:
    if text is None or not text.strip():
        raise Invalid("Invalid data provided: text is required")
    if len(text) > limit:
        raise TooLarge(f"text is longer than {limit} characters")
    return text
