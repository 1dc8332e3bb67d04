"""The server-to-server API's operations: what the platform's backend may do in any chat
(the caller's API key and its scope are checked by the transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.errors import Invalid, NotFound, TooLarge
from slychat.identity import Role, User
from slychat.ids import now_ms
from slychat.media.store import MediaStore, release
from slychat.models import Chat, ChatDetails, ChatKey, ChatView, Message
from slychat.services.chats import ChatList, ChatService, MessageCursor
from slychat.services.events import ChatOpened, Event, MessageDeleted
from slychat.services.messages import MessageService, SendCommand, Sent
from slychat.storage import admin_queries as q
from slychat.storage import repository as repo
from slychat.storage.database import Database

# Rows per transaction or read when a whole chat or a whole user is walked: bounded, so a
# chat of a million messages or a user with 100k messages never holds one giant
# transaction nor one giant list.
EXPORT_PAGE = 500
ERASE_BATCH = 200
_CHATS_PAGE = 200


@dataclass(frozen=True, slots=True)
class OpenChat:
    key: ChatKey
    details: ChatDetails
    text: str | None = None  # the vendor's first message, if any


@dataclass(frozen=True, slots=True)
class Opened:
    chat: Chat
    created: bool
    message: Message | None
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class Erasure:
    """What erasing a user removed so far."""

    messages: int = 0
    media_files: int = 0
    chats: int = 0
    last_seen: bool = False


class AdminService:
    def __init__(
        self,
        db: Database,
        chats: ChatService,
        messages: MessageService,
        media_store: MediaStore,
        max_text_length: int,
    ) -> None:
        self.db = db
        self.chats = chats
        self.messages = messages
        self.media_store = media_store
        self.max_text_length = max_text_length

    async def user_chats(self, user: User, before: str | None, limit: int | None) -> ChatList:
        return await self.chats.list_chats(user, before, limit)

    async def history(
        self, chat_id: str, before: MessageCursor | None, limit: int | None
    ) -> ChatView:
        return await self.chats.history(chat_id, before, limit)

    async def chat(self, chat_id: str) -> Chat:
        async with self.db.read() as conn:
            chat = await repo.chat_by_id(conn, chat_id)
        if chat is None:
            raise NotFound("Chat not found")
        return chat

    def _text(self, text: str) -> str:
        if not text.strip():
            raise Invalid("Invalid data provided: text is required")
        if len(text) > self.max_text_length:
            raise TooLarge(f"text is longer than {self.max_text_length} characters")
        return text

    async def open_chat(self, cmd: OpenChat) -> Opened:
        """Open the chat whoever SLYCHAT_CHAT_STARTERS names; with `text`, as the vendor's
        first message. A chat that exists already is answered as it is: nothing is sent."""
        key = cmd.key
        if cmd.text is None:
            chat, created = await self.messages.open_chat(key, cmd.details)
            events: list[Event] = [ChatOpened(chat, (key.customer, key.vendor))] if created else []
            return Opened(chat, created, None, events)
        text = self._text(cmd.text)
        existing = await self.messages.chats.find(key)
        if existing is not None:
            return Opened(await self.chat(existing), False, None)
        send = SendCommand(key.product_id, key.customer_id, text, details=cmd.details)
        sent = await self.messages.send(key.vendor, send, any_starter=True)
        chat = await self.chat(sent.message.chat_id)
        if sent.created is None:  # a first message of the customer's won the race
            return Opened(chat, False, sent.message, sent.events)
        # The vendor did not send it from one of their sockets: they learn of the chat too.
        return Opened(chat, True, sent.message, [ChatOpened(chat, (key.vendor,)), *sent.events])

    async def post_system(self, chat_id: str, text: str, client_message_id: str | None) -> Sent:
        return await self.messages.post_system(
            await self.chat(chat_id), self._text(text), client_message_id
        )

    async def export(self, chat_id: str) -> tuple[Chat, AsyncIterator[list[Message]]]:
        """The chat, and every one of its messages in `seq` order (tombstones included)
        in pages of EXPORT_PAGE, each read when the previous one was consumed."""
        chat = await self.chat(chat_id)

        async def pages() -> AsyncIterator[list[Message]]:
            after = 0
            while True:
                async with self.db.read() as conn:
                    page = await q.messages_after(conn, chat.id, after, EXPORT_PAGE)
                if page:
                    yield page
                if len(page) < EXPORT_PAGE:
                    return
                after = page[-1].seq

        return chat, pages()

    async def erase(self, user: User, progress: Erasure) -> AsyncIterator[list[Event]]:
        """Erase `user`'s data in bounded transactions: every message they sent becomes a
        tombstone (its files removed after the commit), then their personal fields on
        chats and their lastSeen. Yields each batch's events once committed; `progress`
        counts. Running it again finds nothing left: it is idempotent."""
        if user.role not in (Role.CUSTOMER, Role.VENDOR):
            raise Invalid("Only customers and vendors have data to erase")
        after = ""
        while True:
            async with self.db.read() as conn:
                found = await q.chats_after(conn, user, after, _CHATS_PAGE)
            for chat in found:
                while True:
                    deleted, files = await self._tombstone_batch(chat, user.role)
                    await release(self.media_store, files)
                    progress.messages += len(deleted)
                    progress.media_files += len(files)
                    if deleted:
                        yield deleted
                    if len(deleted) < ERASE_BATCH:
                        break
            if len(found) < _CHATS_PAGE:
                break
            after = found[-1].id
        while cleared := await self.db.write(
            lambda conn: q.clear_personal_fields(conn, user, _CHATS_PAGE)
        ):
            progress.chats += cleared
        progress.last_seen = await self.db.write(lambda conn: q.forget_last_seen(conn, user))

    async def _tombstone_batch(self, chat: Chat, sender: Role) -> tuple[list[Event], list[str]]:
        """Up to ERASE_BATCH of `sender`'s live messages in the chat made tombstones, as
        deleteMessage does, in one transaction; the media keys to remove after it."""

        async def work(conn: AsyncConnection) -> tuple[list[Event], list[str]]:
            ids = await q.live_messages_of(conn, chat, sender, ERASE_BATCH)
            if not ids:
                return [], []
            now = now_ms()
            files = await q.tombstone_many(conn, ids, now)
            await q.append_deleted(conn, chat, ids, now)
            return [MessageDeleted(chat, message_id, now) for message_id in ids], files

        return await self.db.write(work)
