"""Reading chats: lists, history pages, read receipts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Forbidden, Invalid, NotFound
from slychat.domain.identity import User
from slychat.domain.ids import now_ms
from slychat.domain.models import Chat, ChatKey, ChatSettings, ChatView
from slychat.services import budget
from slychat.services.events import EventSink, MessagesRead, SettingsChanged
from slychat.services.sync import Position, head_position
from slychat.storage import feeds
from slychat.storage import repository as repo
from slychat.storage.database import Database


@dataclass(frozen=True, slots=True)
class ChatRef:
    """How a client names a chat: its id, or the product and the other party."""

    chat_id: str | None = None
    product_id: str | None = None
    recipient_id: int | None = None

    def key_for(self, user: User) -> ChatKey | None:
        if self.product_id is None or self.recipient_id is None:
            return None
        return ChatKey.between(user, self.product_id, self.recipient_id)


@dataclass(frozen=True, slots=True)
class ChatList:
    views: list[ChatView]
    total_unread: int
    head: Position
    has_more: bool = False  # more chats follow (ask with `before` = the last chat's id)


MAX_RECEIPT_IDS = 1000
NO_SETTINGS = ChatSettings()

# Every chat of a userChats page gets an equal share of the page's budget for its
# messages (a chat full of long messages cannot crowd the others out), at least this much;
# and always its latest message, which a chat list shows.
_MIN_CHAT_SHARE = 2 * 1024


@dataclass(frozen=True, slots=True)
class MessageCursor:
    """`before` in a page request: a message id or a `seq`."""

    message_id: str | None = None
    seq: int | None = None


async def resolve_chat(conn: AsyncConnection, user: User, ref: ChatRef) -> Chat:
    """The chat `ref` names, if `user` takes part in it."""
    key = ref.key_for(user)
    if ref.chat_id is not None:
        chat = await repo.chat_by_id(conn, ref.chat_id)
        if chat is None:
            raise NotFound("Chat not found")
        if not chat.has_participant(user):
            raise Forbidden("You are not a participant of this chat")
        if key is not None and chat.key != key:
            raise Invalid("chatId does not match productId and recipientId")
        return chat
    if key is None:
        raise Invalid("chatId, or productId and recipientId, are required")
    chat = await repo.chat_by_key(conn, key)
    if chat is None:
        raise NotFound("Chat not found")
    return chat


class ChatService:
    def __init__(
        self,
        db: Database,
        page_size: int,
        chats_page_size: int,
        list_budget: int,
        sink: EventSink,
    ) -> None:
        self.sink = sink
        self.db = db
        self.page_size = page_size
        self.chats_page_size = chats_page_size
        self.list_budget = list_budget

    async def list_chats(
        self,
        user: User,
        before_chat_id: str | None = None,
        limit: int | None = None,
        archived: bool = False,
    ) -> ChatList:
        """The user's chats, latest activity first, each with its latest page: those the
        user has not archived, or (`archived`) those they have."""
        async with self.db.read() as conn:
            # The feed head is read first: whatever commits during the reads below comes
            # after it, so a client syncing from it misses nothing (at worst sees it twice).
            head = head_position(await feeds.feed_head(conn, user))
            before = None
            if before_chat_id is not None:
                anchor = await repo.chat_by_id(conn, before_chat_id)
                if anchor is None or not anchor.has_participant(user):
                    raise NotFound("Chat not found")
                before = (anchor.last_message_at, anchor.id)
            limit = limit or self.chats_page_size
            chats = await repo.list_chats(conn, user, before, limit + 1, archived)
            more, chats = len(chats) > limit, chats[:limit]
            ids = [chat.id for chat in chats]
            pages = await repo.latest_pages(conn, ids, self.page_size)
            unread = await repo.unread_counts(conn, ids, user)
            settings = await repo.settings_of(conn, user, ids)
            total_unread = await repo.total_unread(conn, user)
        share = max(self.list_budget // max(len(chats), 1), _MIN_CHAT_SHARE)
        views: list[ChatView] = []
        left = self.list_budget
        for chat in chats:
            page, older = pages[chat.id]
            kept = budget.latest(page, budget.message_cost, share - budget.chat_cost(chat))
            cost = budget.chat_cost(chat) + budget.total(kept, budget.message_cost)
            if views and cost > left:
                more = True
                break
            left -= cost
            views.append(
                ChatView(
                    chat,
                    kept,
                    unread.get(chat.id, 0),
                    older or kept != page,
                    settings.get(chat.id, NO_SETTINGS),
                )
            )
        return ChatList(views, total_unread, head, more)

    async def open_chat(
        self, user: User, ref: ChatRef, before: MessageCursor | None, limit: int | None
    ) -> tuple[ChatView, MessagesRead | None]:
        """joinChat: mark the other party's messages read and load a page of history."""

        async def work(conn: AsyncConnection) -> tuple[ChatView, MessagesRead]:
            chat = await resolve_chat(conn, user, ref)
            receipt = await _mark_read(conn, chat, user)
            return await self._page(conn, chat, before, limit, 0, user), receipt

        view, receipt = await self.db.write(work)
        if not receipt.message_ids:
            return view, None
        await self.sink([receipt])
        return view, receipt

    async def read_chat(
        self, user: User, key: ChatKey, before: MessageCursor | None, limit: int | None
    ) -> ChatView:
        """A page of a chat's history, read-only (nothing is marked read): the chat at
        `key`, which the caller must be a participant of."""
        if user not in (key.vendor, key.customer):
            # Decided from the key alone: a stranger learns nothing of whether it exists.
            raise Forbidden("You are not a participant of this chat")
        async with self.db.read() as conn:
            chat = await repo.chat_by_key(conn, key)
            if chat is None:
                raise NotFound("Chat not found")
            unread = await repo.unread_counts(conn, [chat.id], user)
            return await self._page(conn, chat, before, limit, unread.get(chat.id, 0), user)

    async def history(
        self, chat_id: str, before: MessageCursor | None, limit: int | None
    ) -> ChatView:
        """A page of any chat's history, read-only, for a caller authorized otherwise (the
        admin API): nobody's unread count."""
        async with self.db.read() as conn:
            chat = await repo.chat_by_id(conn, chat_id)
            if chat is None:
                raise NotFound("Chat not found")
            return await self._page(conn, chat, before, limit, 0, None)

    async def _page(
        self,
        conn: AsyncConnection,
        chat: Chat,
        before: MessageCursor | None,
        limit: int | None,
        unread: int,
        viewer: User | None,
    ) -> ChatView:
        """The newest `limit` messages before `before`, within the list budget; with the
        viewer's own settings of the chat."""
        before_seq = await _before_seq(conn, chat, before)
        page, has_more = await repo.message_page(conn, chat.id, before_seq, limit or self.page_size)
        room = self.list_budget - budget.chat_cost(chat)
        kept = budget.latest(page, budget.message_cost, room)
        settings = NO_SETTINGS
        if viewer is not None:
            settings = (await repo.settings_of(conn, viewer, [chat.id])).get(chat.id, settings)
        return ChatView(chat, kept, unread, has_more or kept != page, settings)

    async def update_settings(
        self, user: User, chat_id: str, muted: bool | None, archived: bool | None
    ) -> tuple[ChatSettings, SettingsChanged | None]:
        """`user`'s own settings of a chat of theirs, changed where given; the settings
        now, and the change (None when nothing changed)."""

        async def work(conn: AsyncConnection) -> tuple[ChatSettings, SettingsChanged | None]:
            chat = await resolve_chat(conn, user, ChatRef(chat_id))
            now_set = (await repo.settings_of(conn, user, [chat.id])).get(chat.id, NO_SETTINGS)
            wanted = ChatSettings(
                now_set.muted if muted is None else muted,
                now_set.archived if archived is None else archived,
            )
            if wanted == now_set:
                return now_set, None
            now = now_ms()
            await repo.save_settings(conn, user, chat.id, wanted, now)
            await feeds.append_feed(conn, [user], "settings", chat.id, now, settings=wanted)
            return wanted, SettingsChanged(user, chat.id, wanted)

        settings, changed = await self.db.write(work)
        if changed is not None:
            await self.sink([changed])
        return settings, changed

    async def mark_read(self, user: User, ref: ChatRef) -> MessagesRead:
        async def work(conn: AsyncConnection) -> MessagesRead:
            return await _mark_read(conn, await resolve_chat(conn, user, ref), user)

        receipt = await self.db.write(work)
        await self.sink([receipt])
        return receipt


async def _mark_read(conn: AsyncConnection, chat: Chat, reader: User) -> MessagesRead:
    now = now_ms()
    marked = await repo.mark_read(conn, chat.id, reader, now)
    # A receipt names the newest messages it covers, a bounded list: everything older in
    # the chat is read too (markAsRead reads them all), and a reload shows it.
    ids = marked[-MAX_RECEIPT_IDS:]
    if ids:
        await feeds.append_feed(
            conn, (chat.customer, chat.vendor), "read", chat.id, now, message_ids=ids, actor=reader
        )
    return MessagesRead(
        chat.id, reader, chat.counterpart_of(reader), tuple(ids), now, count=len(marked)
    )


async def _before_seq(
    conn: AsyncConnection, chat: Chat, before: MessageCursor | None
) -> int | None:
    if before is None:
        return None
    if before.seq is not None:
        return before.seq
    anchor = await repo.message_by_id(conn, before.message_id or "")
    if anchor is None or anchor.chat_id != chat.id:
        raise NotFound("Message given in 'before' not found in this chat")
    return anchor.seq
