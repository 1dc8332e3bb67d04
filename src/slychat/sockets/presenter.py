"""The only code that names events, picks their recipients and has their bodies built
(protocol/outbound.py, one builder per event): what the services committed (`publish`,
attached to the container's event sink), the replies to one socket (list events and
`appError`), and the acks built from the same shapes.

Every /chat socket sits in its user's room, so a user room reaches all of that user's
tabs, on every node; no other rooms are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slychat.domain.errors import AppError
from slychat.domain.identity import User
from slychat.domain.ids import now_ms
from slychat.domain.models import Block, Chat, ChatView, Message
from slychat.protocol import outbound as wire
from slychat.protocol.cursors import CursorCodec
from slychat.protocol.namespaces import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from slychat.protocol.rooms import user_room
from slychat.services.chats import ChatList
from slychat.services.events import (
    BlocksChanged,
    ChatOpened,
    ChatStarted,
    Event,
    MessageDeleted,
    MessageEdited,
    MessagesDelivered,
    MessageSent,
    MessagesRead,
    PresenceChanged,
    ReactionsChanged,
    SettingsChanged,
    Typing,
)
from slychat.services.presence import PresenceStatus
from slychat.services.search import SearchPage
from slychat.services.sync import Position, SyncPage


class Presenter:
    def __init__(
        self,
        server: Any,
        cursors: CursorCodec,
        media_url: wire.UrlOf,
        hold_of: Callable[[User], int | None] = lambda _user: None,
        blocks: Callable[[User, User], bool] = lambda _viewer, _other: False,
    ) -> None:
        # Whether the viewer blocks the other party of a chat: `blocked` on their chats.
        self.blocks = blocks
        self.server = server  # the socketio server: emits on either namespace, on every node
        self.cursors = cursors
        self.media_url = media_url
        # Where the viewer's sockets here are held while a fan-out break is caught up
        # (realtime/feed_order.py): no cursor written for them goes past it.
        self.hold_of = hold_of
        self._last_message: tuple[Message, User, wire.Json] | None = None

    async def emit(
        self, event: str, body: wire.Json, to: str | list[str], namespace: str = CHAT_NAMESPACE
    ) -> None:
        await self.server.emit(event, body, to=to, namespace=namespace)

    # --- what happened: to the rooms of those it concerns ---------------------------------

    async def publish(self, events: Sequence[Event]) -> None:
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
                await self.emit("messagesDelivered", wire.delivered(e), user_room(e.sender))
            elif isinstance(e, MessagesRead):
                await self.emit("updateReadReceipts", wire.read(e), user_room(e.counterpart))
            elif isinstance(e, MessageDeleted):
                rooms = [user_room(e.chat.vendor), user_room(e.chat.customer)]
                await self.emit("messageDeleted", wire.deleted(e), rooms)
            elif isinstance(e, MessageEdited):
                for viewer in (e.chat.customer, e.chat.vendor):  # each with its own cursor
                    body = self.edited(e.message, viewer)
                    await self.emit("messageEdited", body, user_room(viewer))
            elif isinstance(e, ReactionsChanged):
                rooms = [user_room(e.chat.vendor), user_room(e.chat.customer)]
                body = wire.reactions_body(e.chat.id, e.message_id, e.reactions)
                await self.emit("messageReactions", body, rooms)
            elif isinstance(e, SettingsChanged):
                body = wire.settings_body(e.chat_id, e.settings)
                await self.emit("chatSettings", body, user_room(e.user))
            elif isinstance(e, Typing):
                name = "stoppedTyping" if e.stopped else "userTyping"
                await self.emit(name, wire.typing(e), user_room(e.recipient))
            elif isinstance(e, BlocksChanged):
                await self.emit("blockedUsers", wire.blocked_users(e.blocks), user_room(e.user))
            elif isinstance(e, PresenceChanged) and e.audience:
                # To the /chat sockets of everyone sharing a chat with the user.
                rooms = [user_room(other) for other in e.audience]
                if e.online:
                    await self.emit("userIsOnline", wire.online(e.user), rooms)
                else:
                    await self.emit("userIsOffline", wire.offline(e.user, e.last_seen), rooms)

    # --- replies to one socket ------------------------------------------------------------

    async def app_error(self, sid: str, namespace: str, exc: AppError) -> wire.Json:
        """Tell the socket what went wrong; its handler acks with the same object."""
        body = wire.error(exc)
        await self.emit("appError", body, sid, namespace)
        return body

    async def counted_online(self, sid: str, user: User) -> None:
        """A /presence connection is counted: the user is online."""
        await self.emit("userIsOnline", wire.online(user), sid, PRESENCE_NAMESPACE)

    async def online_presence(self, sid: str, status: PresenceStatus) -> wire.Json:
        body = wire.presence(status)
        await self.emit("onlinePresence", body, sid, PRESENCE_NAMESPACE)
        return body

    async def user_chats(self, sid: str, text: str, viewer: User, chats: ChatList) -> wire.Json:
        body = self.chats(text, viewer, chats)
        await self.emit("userChats", body, sid)
        return body

    async def load_messages(self, sid: str, viewer: User, view: ChatView) -> wire.Json:
        body = wire.ok("Chats has been loaded", self.chat(view, viewer))
        await self.emit("loadMessages", body, sid)
        return body

    async def sync_messages(
        self, sid: str, viewer: User, page: SyncPage, *, pushed: bool = False
    ) -> wire.Json:
        body = self.sync(viewer, page, pushed=pushed)
        await self.emit("syncMessages", body, sid)
        return body

    async def blocked_users(self, sid: str, blocks: list[Block]) -> wire.Json:
        body = wire.blocked_users(blocks)
        await self.emit("blockedUsers", body, sid)
        return body

    async def offline_messages(
        self, sid: str, viewer: User, messages: list[Message], more: bool
    ) -> wire.Json:
        body = [self.message(m, viewer) for m in messages]
        reply = wire.ok("Offline messages has been sent successfully", body) | {"hasMore": more}
        await self.emit("offlineMessages", reply, sid)
        return reply

    # --- shapes shared by events, acks and HTTP answers -----------------------------------

    def cursor_of(self, viewer: User) -> wire.CursorOf:
        hold = self.hold_of(viewer)
        if hold is not None:
            held = self.cursors.encode(viewer, Position(hold, now_ms()))

            def held_cursor(m: Message) -> str | None:
                pos = m.feed_pos(viewer)
                return (
                    None if pos is None else held if pos > hold else self.cursors.after(m, viewer)
                )

            return held_cursor

        def cursor(m: Message) -> str | None:
            return self.cursors.after(m, viewer)

        return cursor

    def head_cursor(self, viewer: User, head: Position) -> str:
        """The cursor of a feed's head, or of the hold of the viewer's sockets here."""
        hold = self.hold_of(viewer)
        if hold is not None and hold < head.pos:
            head = Position(hold, head.at)
        return self.cursors.encode(viewer, head)

    def message(self, m: Message, viewer: User) -> wire.Json:
        # A sender's ack is the copy of the message just emitted to them: build it once.
        last = self._last_message
        if last is not None and last[0] is m and last[1] == viewer:
            return last[2]
        body = wire.message(m, self.cursor_of(viewer)(m), self.media_url)
        self._last_message = (m, viewer, body)
        return body

    def sent(self, m: Message, viewer: User) -> wire.Json:
        """The ack of a message its sender just sent."""
        return wire.ok("Message has been sent", self.message(m, viewer))

    def edited(self, m: Message, viewer: User) -> wire.Json:
        """`messageEdited`, and the ack of editMessage: the message as it reads now."""
        return wire.ok("Message has been edited", self.message(m, viewer))

    def blocked_of(self, viewer: User) -> Callable[[Chat], bool]:
        def blocked(chat: Chat) -> bool:
            # Only a participant blocks the other one; anyone else sees no block.
            return chat.has_participant(viewer) and self.blocks(viewer, chat.counterpart_of(viewer))

        return blocked

    def chat(self, view: ChatView, viewer: User) -> wire.Json:
        blocked = self.blocked_of(viewer)(view.chat)
        return wire.chat(view, self.cursor_of(viewer), self.media_url, blocked=blocked)

    def chats(self, text: str, viewer: User, chats: ChatList) -> wire.Json:
        cursor_of = self.cursor_of(viewer)
        blocked = self.blocked_of(viewer)
        chats_json = [
            wire.chat(v, cursor_of, self.media_url, blocked=blocked(v.chat)) for v in chats.views
        ]
        return wire.ok(text, chats_json) | {
            "totalUnread": chats.total_unread,
            "hasMore": chats.has_more,
            "syncCursor": self.head_cursor(viewer, chats.head),
        }

    @staticmethod
    def confirm(body: wire.Json, listed: list[Any], has_more: bool, **extra: Any) -> wire.Json:
        """The ack of a list reply (`body`, emitted as its event): how much the event
        carried, not a second copy of it."""
        return wire.ok(body["message"], {"count": len(listed), "hasMore": has_more} | extra)

    def sync(self, viewer: User, page: SyncPage, *, pushed: bool = False) -> wire.Json:
        """A syncMessages page; `pushed`: sent by the server on its own, after a break of
        the fan-out between nodes (its cursor is the page's end: the socket has had
        everything before it)."""
        cursor_of = self.cursor_of(viewer)
        blocked = self.blocked_of(viewer)
        shaped = (wire.change(e, cursor_of, self.media_url, blocked) for e in page.changes)
        changes = [c for c in shaped if c is not None]
        data: wire.Json = {
            "changes": changes,
            "hasMore": page.has_more,
            "syncCursor": self.cursors.encode(viewer, page.position),
        }
        if page.reset:
            data["reset"] = True
        if pushed:
            data["pushed"] = True
        return wire.ok("Changes have been sent successfully", data)

    async def search_messages(self, sid: str, viewer: User, page: SearchPage) -> wire.Json:
        body = self.search(viewer, page)
        await self.emit("searchMessages", body, sid)
        return body

    def search(self, viewer: User, page: SearchPage) -> wire.Json:
        data = {
            "messages": [self.message(m, viewer) for m in page.messages],
            "hasMore": page.has_more,
            "next": None if page.next is None else self.cursors.encode_search(viewer, page.next),
        }
        return wire.ok("Search results", data)
