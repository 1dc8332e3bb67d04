"""Writing messages: send (idempotent), delete, offline delivery, typing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.errors import Forbidden, Invalid, NotFound
from slychat.identity import SYSTEM_USER, User
from slychat.ids import now_ms
from slychat.media.store import MediaStore, release
from slychat.models import Chat, ChatDetails, ChatKey, Media, Message
from slychat.services import budget
from slychat.services.chat_directory import ChatDirectory
from slychat.services.chat_policy import NewChatPolicy
from slychat.services.chats import ChatRef
from slychat.services.events import ChatStarted, Event, MessageDeleted, MessageSent
from slychat.services.limits import Limits
from slychat.services.presence import PresenceService
from slychat.services.sync import record_delivery
from slychat.storage import feeds
from slychat.storage import repository as repo
from slychat.storage.database import Database
from slychat.storage.group_commit import GroupCommit
from slychat.storage.send_batch import ChatMissing, Outgoing, SendStore, Stored, UniqueViolation


@dataclass(frozen=True, slots=True)
class SendCommand:
    product_id: str
    recipient_id: int
    text: str | None
    client_message_id: str | None = None
    details: ChatDetails = field(default_factory=ChatDetails)
    media: tuple[Media, ...] = ()  # files already in the media store


@dataclass(frozen=True, slots=True)
class Sent:
    key: ChatKey
    message: Message
    created: Chat | None  # the chat, when this message created it
    duplicate: bool  # a retry of a message stored before: nothing new happened

    @property
    def events(self) -> list[Event]:
        if self.duplicate:
            return []
        m = self.message
        if m.sender == SYSTEM_USER:  # a notice to both participants, from neither
            return [MessageSent(m, (self.key.customer, self.key.vendor))]
        recipient = self.key.counterpart_of(m.sender)
        # A message that reaches the recipient at once carries `deliveredAt` in the
        # sender's own copy and ack; `messagesDelivered` is for deliveries that come later.
        if self.created is not None:
            return [ChatStarted(self.created, m, recipient), MessageSent(m, (m.sender,))]
        return [MessageSent(m, (recipient, m.sender))]


class MessageService:
    def __init__(
        self,
        db: Database,
        store: SendStore,
        chats: ChatDirectory,
        presence: PresenceService,
        media_store: MediaStore,
        offline_batch: int,
        list_budget: int,
        new_chats: NewChatPolicy,
        limits: Limits,
    ) -> None:
        self.limits = limits
        self.list_budget = list_budget
        self.new_chats = new_chats
        self.db = db
        self.media_store = media_store
        self.chats = chats
        self.presence = presence
        self.offline_batch = offline_batch
        self.store = store
        self.writer: GroupCommit[Outgoing, Stored] = GroupCommit(store.store)

    async def send(self, sender: User, cmd: SendCommand, *, any_starter: bool = False) -> Sent:
        """Store a message, creating the chat on first contact; answered after commit.
        `any_starter`: the platform (admin API) opens the chat on the sender's behalf, so
        SLYCHAT_CHAT_STARTERS and the sender's new-chat rate do not apply."""
        key = ChatKey.between(sender, cmd.product_id, cmd.recipient_id)
        recipient = key.counterpart_of(sender)
        chat_id = await self.chats.find(key)
        if chat_id is None:
            self.new_chats.check(sender, cmd.details, any_starter=any_starter)
            if not any_starter:
                # Last, once the message is known to create the chat: a message to an
                # existing chat never spends it, and a refused one has stored nothing yet.
                await self.limits.new_chat(sender)
        item = Outgoing(
            key=key,
            chat_id=chat_id,
            sender=sender,
            text=cmd.text,
            client_message_id=cmd.client_message_id,
            recipient_online=await self.presence.is_online(recipient),
            # Emitted right after commit to every socket of the recipient, if they have one.
            delivered=await self.presence.has_chat_socket(recipient),
            details=None if chat_id is not None else cmd.details,
            media=cmd.media,
        )
        try:
            stored = await self.writer.submit(item)
        except UniqueViolation:
            # A concurrent retry with the same clientMessageId committed first: this
            # attempt rolled back whole, so answer with the message that won.
            if cmd.client_message_id is None:
                raise
            return await self._first_of(sender, key, cmd.client_message_id)
        except ChatMissing as exc:  # pragma: no cover - chats are never deleted
            raise NotFound("Chat not found") from exc
        if stored.created is not None:
            self.chats.remember(key, stored.created.id)
        message = stored.message
        if message.media_count and not message.media:  # a retry, answered from storage
            async with self.db.read() as conn:
                message = (await repo.with_media(conn, [message]))[0]
        return Sent(key, message, stored.created, stored.duplicate)

    async def post_system(self, chat: Chat, text: str, client_message_id: str | None) -> Sent:
        """A SYSTEM notice in `chat`, through the same group commit as every message (so
        it has a `seq` and a place in both feeds); idempotent by `client_message_id`."""
        item = Outgoing(
            key=chat.key,
            chat_id=chat.id,
            sender=SYSTEM_USER,
            text=text,
            client_message_id=client_message_id,
            recipient_online=False,
            # Nobody's to deliver: never listed as offline nor counted as delivered later.
            delivered=False,
        )
        try:
            stored = await self.writer.submit(item)
        except UniqueViolation:
            if client_message_id is None:
                raise
            return await self._first_of(SYSTEM_USER, chat.key, client_message_id)
        return Sent(chat.key, stored.message, None, stored.duplicate)

    async def open_chat(self, key: ChatKey, details: ChatDetails) -> tuple[Chat, bool]:
        """The chat at `key`, opened without a message unless it exists (the admin API);
        whether this call created it. Its details are checked as a first message's are,
        whoever SLYCHAT_CHAT_STARTERS names."""
        self.new_chats.check(key.vendor, details, any_starter=True)
        chat, created = await self.store.open_chat(key, details)
        self.chats.remember(key, chat.id)
        return chat, created

    async def _first_of(self, sender: User, key: ChatKey, client_message_id: str) -> Sent:
        async with self.db.read() as conn:
            first = await repo.message_by_client_id(conn, key, sender.role, client_message_id)
        if first is None:
            raise NotFound("Message not found")
        return Sent(key, first, None, duplicate=True)

    async def delete(self, user: User, message_id: str, ref: ChatRef | None) -> MessageDeleted:
        """Only the sender deletes; the row stays as a tombstone for reconnecting clients,
        and the message's files leave the media store once the deletion has committed."""

        async def work(conn: AsyncConnection) -> tuple[MessageDeleted, list[str]]:
            message = await repo.message_by_id(conn, message_id)
            if message is None or message.deleted_at is not None:
                raise NotFound("Message not found")
            chat = await repo.chat_by_id(conn, message.chat_id)
            if chat is None or not chat.has_participant(user):
                raise Forbidden("You are not a participant of this chat")
            if ref is not None and ref.key_for(user) not in (None, chat.key):
                raise NotFound("Message not found in this chat")
            if message.sender != user:
                raise Forbidden("Only the sender can delete a message")
            now = now_ms()
            files = await repo.tombstone(conn, message.id, now)
            await feeds.append_feed(
                conn, (chat.customer, chat.vendor), "deleted", chat.id, now, message_id=message.id
            )
            return MessageDeleted(chat, message.id, now), files

        deleted, files = await self.db.write(work)
        await release(self.media_store, files)
        return deleted

    async def take_offline(self, user: User) -> tuple[list[Message], bool]:
        """The next batch of messages to `user` that reached none of their sockets, now
        counted as delivered; and whether more remain."""
        now = now_ms()

        async def work(conn: AsyncConnection) -> tuple[list[Message], bool]:
            found, more = await repo.undelivered(conn, user, self.offline_batch)
            kept = budget.prefix(found, budget.message_cost, self.list_budget)
            await repo.mark_delivered(conn, [m.id for m in kept], now)
            taken = [replace(m, delivered_at=now) for m in kept]
            await record_delivery(conn, taken, now)
            return taken, more or len(kept) < len(found)

        return await self.db.write(work)

    async def typing_chat(self, user: User, ref: ChatRef) -> str | None:
        """The chat a typing notice is about, or None while it does not exist yet."""
        key = ref.key_for(user)
        if key is None:
            raise Invalid("productId and recipientId are required")
        chat_id = await self.chats.find(key)
        if chat_id is None and not self.new_chats.may_start(user):
            # Only someone who could start this chat may be about to: a vendor typing to
            # a customer who never wrote to them would be unsolicited.
            raise Forbidden("There is no chat with this user about this product")
        return chat_id
