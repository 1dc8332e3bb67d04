"""Turns what the services report into Socket.IO emits: for each event, its name, its
recipients and its wire shape. Handlers never build envelopes or pick recipients.

Every /chat socket sits in its user's room, so a user room reaches all of that user's
tabs, on every node; no other rooms are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slychat.identity import User
from slychat.ids import iso
from slychat.models import ChatView, Message
from slychat.services.chats import ChatList
from slychat.services.events import (
    ChatOpened,
    ChatStarted,
    Event,
    MessageDeleted,
    MessagesDelivered,
    MessageSent,
    MessagesRead,
)
from slychat.services.sync import CursorCodec, Position, SyncPage
from slychat.transport import wire
from slychat.transport.rooms import user_room


class Presenter:
    def __init__(self, namespace: Any, cursors: CursorCodec, media_url: wire.UrlOf) -> None:
        self.namespace = namespace  # the socketio namespace the events are emitted on
        self.cursors = cursors
        self.media_url = media_url
        self._last_message: tuple[Message, User, wire.Json] | None = None

    async def emit(self, event: str, body: wire.Json, to: str | list[str]) -> None:
        await self.namespace.emit(event, body, to=to)

    async def publish(self, events: Iterable[Event]) -> None:
        for e in events:
            if isinstance(e, MessageSent):
                # Each party's copy carries that party's own syncCursor. A message with
                # files is announced as `receiveMedia`, in the same shape.
                name = "receiveMedia" if e.message.media else "receiveMessage"
                for viewer in e.viewers:
                    body = wire.ok(None, [self.message(e.message, viewer)])
                    await self.emit(name, body, user_room(viewer))
            elif isinstance(e, ChatStarted):
                view = ChatView(e.chat, [e.message], unread_count=1)
                body = wire.ok(self.chat(view, e.recipient), {})
                await self.emit("newChat", body, user_room(e.recipient))
            elif isinstance(e, ChatOpened):
                for viewer in e.viewers:
                    body = wire.ok(self.chat(ChatView(e.chat), viewer), {})
                    await self.emit("newChat", body, user_room(viewer))
            elif isinstance(e, MessagesDelivered):
                await self.emit("messagesDelivered", self.delivered(e), user_room(e.sender))
            elif isinstance(e, MessagesRead):
                await self.emit("updateReadReceipts", self.read(e), user_room(e.counterpart))
            elif isinstance(e, MessageDeleted):
                rooms = [user_room(e.chat.vendor), user_room(e.chat.customer)]
                await self.emit("messageDeleted", self.deleted(e), rooms)

    # --- shapes ---------------------------------------------------------------------------

    def cursor_of(self, viewer: User) -> wire.CursorOf:
        def cursor(m: Message) -> str | None:
            pos = m.feed_pos(viewer)
            return None if pos is None else self.cursors.encode(viewer, Position(pos, m.created_at))

        return cursor

    def message(self, m: Message, viewer: User) -> wire.Json:
        # A sender's ack is the copy of the message just emitted to them: build it once.
        last = self._last_message
        if last is not None and last[0] is m and last[1] == viewer:
            return last[2]
        body = wire.message(m, self.cursor_of(viewer)(m), self.media_url)
        self._last_message = (m, viewer, body)
        return body

    def chat(self, view: ChatView, viewer: User) -> wire.Json:
        return wire.chat(view, self.cursor_of(viewer), self.media_url)

    def chats(self, text: str, viewer: User, chats: ChatList) -> wire.Json:
        cursor_of = self.cursor_of(viewer)
        chats_json = [wire.chat(v, cursor_of, self.media_url) for v in chats.views]
        return wire.ok(text, chats_json) | {
            "totalUnread": chats.total_unread,
            "hasMore": chats.has_more,
            "syncCursor": self.cursors.encode(viewer, chats.head),
        }

    @staticmethod
    def confirm(body: wire.Json, listed: list[Any], has_more: bool, **extra: Any) -> wire.Json:
        """The ack of a list reply (`body`, emitted as its event): how much the event
        carried, not a second copy of it."""
        return wire.ok(body["message"], {"count": len(listed), "hasMore": has_more} | extra)

    def sync(self, viewer: User, page: SyncPage) -> wire.Json:
        cursor_of = self.cursor_of(viewer)
        shaped = (wire.change(e, cursor_of, self.media_url) for e in page.changes)
        changes = [c for c in shaped if c is not None]
        data: wire.Json = {
            "changes": changes,
            "hasMore": page.has_more,
            "syncCursor": self.cursors.encode(viewer, page.position),
        }
        if page.reset:
            data["reset"] = True
        return wire.ok("Changes have been sent successfully", data)

    def offline(self, viewer: User, messages: list[Message], more: bool) -> wire.Json:
        body = [self.message(m, viewer) for m in messages]
        return wire.ok("Offline messages has been sent successfully", body) | {"hasMore": more}

    @staticmethod
    def delivered(e: MessagesDelivered) -> wire.Json:
        data = {"chatId": e.chat_id, "messageIds": list(e.message_ids), "deliveredAt": iso(e.at)}
        return wire.ok("Messages delivered", data)

    @staticmethod
    def read(e: MessagesRead) -> wire.Json:
        data = {
            "chatId": e.chat_id,
            "readerId": e.reader.id,
            "readerType": e.reader.role.value,
            "readAt": iso(e.at),
            "messageIds": list(e.message_ids),
            "count": max(e.count, len(e.message_ids)),
            # Older messages were read too; only the newest are listed.
            "hasMore": e.count > len(e.message_ids),
        }
        return wire.ok("Messages marked as read", data)

    @staticmethod
    def deleted(e: MessageDeleted) -> wire.Json:
        data = {"chatId": e.chat.id, "messageId": e.message_id, "deletedAt": iso(e.at)}
        return wire.ok("Message has been deleted successfully", data)
