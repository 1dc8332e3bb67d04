"""The server-to-server API's operations: what the platform's backend may do in any chat
(the caller's API key and its scope are checked by the transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.errors import Invalid, NotFound, TooLarge
from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import Chat, ChatDetails, ChatKey, ChatView, Message, MessageVersion
from slychat.media.store import MediaStore, release
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
class Exported:
    """A message as the admin export lists it: its earlier versions, and the text its
    sender wrote when contact details were masked in it (None otherwise)."""

    message: Message
    versions: list[MessageVersion]
    original_text: str | None


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
        self.sink = messages.sink  # one sink for the whole container
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
        if await self.messages.chats.find(key) is None:
            # No new chat between two users of whom one blocks the other, whoever opens
            # it (403); a chat that exists is answered as it is, as below.
            self.messages.refuse_blocked(key.customer, key.vendor)
        if cmd.text is None:
            chat, created = await self.messages.open_chat(key, cmd.details)
            if created:
                await self.sink([ChatOpened(chat, (key.customer, key.vendor))])
            return Opened(chat, created, None)
        text = self._text(cmd.text)
        existing = await self.messages.chats.find(key)
        if existing is not None:
            return Opened(await self.chat(existing), False, None)
        send = SendCommand(key.product_id, key.customer_id, text, details=cmd.details)
        sent = await self.messages.store_message(key.vendor, send, any_starter=True)
        chat = await self.chat(sent.message.chat_id)
        if sent.created is None:  # a first message of the customer's won the race
            await self.sink(sent.events)
            return Opened(chat, False, sent.message)
        # The vendor did not send it from one of their sockets: they learn of the chat too.
        await self.sink([ChatOpened(chat, (key.vendor,)), *sent.events])
        return Opened(chat, True, sent.message)

    async def post_system(self, chat_id: str, text: str, client_message_id: str | None) -> Sent:
        return await self.messages.post_system(
            await self.chat(chat_id), self._text(text), client_message_id
        )

    async def set_contact_policy(self, chat_id: str, policy: str | None) -> Chat:
        """The platform lifts or tightens the contact-detail policy of one chat (None:
        the setting's again); in effect for the next message on every node."""
        found = await self.db.write(
            lambda conn: repo.set_chat_contact_policy(conn, chat_id, policy)
        )
        if not found:
            raise NotFound("Chat not found")
        self.messages.policies.remember(chat_id, policy)
        return await self.chat(chat_id)

    async def export(self, chat_id: str) -> tuple[Chat, AsyncIterator[list[Exported]]]:
        """The chat, and every one of its messages in `seq` order (tombstones included),
        each with its earlier versions (oldest first) and its original text, in pages of
        EXPORT_PAGE, each read when the previous one was consumed."""
        chat = await self.chat(chat_id)

        async def pages() -> AsyncIterator[list[Exported]]:
            after = 0
            while True:
                async with self.db.read() as conn:
                    page = await q.messages_after(conn, chat.id, after, EXPORT_PAGE)
                    edited = [m.id for m, _ in page if m.edited_at is not None]
                    versions = await q.versions_of(conn, edited)
                if page:
                    yield [Exported(m, versions.get(m.id, []), o) for m, o in page]
                if len(page) < EXPORT_PAGE:
                    return
                after = page[-1][0].seq

        return chat, pages()

    async def erase(self, user: User, progress: Erasure) -> None:
        """Erase `user`'s data in bounded transactions: every message they sent becomes a
        tombstone (its files removed after the commit), then their personal fields on
        chats and their lastSeen. Each batch's deletions are published once committed;
        `progress` counts. Running it again finds nothing left: it is idempotent."""
        if user.role not in (Role.CUSTOMER, Role.VENDOR):
            raise Invalid("Only customers and vendors have data to erase")
        after = ""
        while True:
            async with self.db.read() as conn:
                found = await q.chats_after(conn, user, after, _CHATS_PAGE)
            for chat in found:
                after_seq = 0
                while True:
                    deleted, files, after_seq = await self._tombstone_batch(
                        chat, user.role, after_seq
                    )
                    await release(self.media_store, files)
                    progress.messages += len(deleted)
                    progress.media_files += len(files)
                    await self.sink(deleted)
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

    async def _tombstone_batch(
        self, chat: Chat, sender: Role, after_seq: int
    ) -> tuple[list[Event], list[str], int]:
        """Up to ERASE_BATCH of `sender`'s live messages in the chat after `after_seq` made
        tombstones, as deleteMessage does, in one transaction; the media keys to remove
        after it, and the seq the next batch starts after (none before it is left live:
        a later send gets a later seq)."""

        async def work(conn: AsyncConnection) -> tuple[list[Event], list[str], int]:
            found = await q.live_messages_of(conn, chat, sender, after_seq, ERASE_BATCH)
            if not found:
                return [], [], after_seq
            ids = [message_id for message_id, _ in found]
            now = now_ms()
            files = await q.tombstone_many(conn, ids, now)
            await q.append_deleted(conn, chat, ids, now)
            events: list[Event] = [MessageDeleted(chat, message_id, now) for message_id in ids]
            return events, files, found[-1][1]

        return await self.db.write(work)
