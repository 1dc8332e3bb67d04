"""Writing messages: send (idempotent), delete, offline delivery, typing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.errors import Forbidden, Invalid, NotFound
from slychat.identity import User
from slychat.ids import new_id, now_ms
from slychat.models import Chat, ChatDetails, ChatKey, Message
from slychat.services.chats import ChatRef
from slychat.services.sync import record_delivery
from slychat.storage import feeds
from slychat.storage import repository as repo
from slychat.storage.database import Database


@dataclass(frozen=True, slots=True)
class SendCommand:
    product_id: str
    recipient_id: int
    text: str | None
    client_message_id: str | None = None
    details: ChatDetails = field(default_factory=ChatDetails)


@dataclass(frozen=True, slots=True)
class Sent:
    chat: Chat
    message: Message
    created: bool
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Deleted:
    chat: Chat
    message: Message
    deleted_at: int


class MessageService:
    def __init__(self, db: Database, offline_batch: int) -> None:
        self.db = db
        self.offline_batch = offline_batch

    async def send(
        self, sender: User, cmd: SendCommand, *, recipient_online: bool, reachable: bool
    ) -> Sent:
        """Store a message, creating the chat on first contact. `reachable` says whether
        the recipient has a socket the message will be emitted to right after commit."""
        key = ChatKey.between(sender, cmd.product_id, cmd.recipient_id)

        async def work(conn: AsyncConnection) -> Sent:
            now = now_ms()
            if cmd.client_message_id is not None:
                first = await repo.message_by_client_id(
                    conn, key, sender.role, cmd.client_message_id
                )
                if first is not None:
                    return await _duplicate(conn, key, first)
            chat = await repo.bump_seq(conn, key, now)
            created = False
            if chat is None:
                _require_new_chat_details(cmd.details)
                created = await repo.insert_chat_if_absent(conn, new_id(), key, cmd.details, now)
                chat = await repo.bump_seq(conn, key, now)
                if chat is None:  # pragma: no cover - the row was inserted or already there
                    raise NotFound("Chat not found")
            participants = (chat.customer, chat.vendor)
            if created:
                await feeds.append_feed(conn, participants, "chat", chat.id, now)
            message_id = new_id()
            positions = await feeds.append_feed(
                conn, participants, "message", chat.id, now, message_id=message_id
            )
            message = Message(
                id=message_id,
                chat_id=chat.id,
                seq=chat.last_seq,
                sender=sender,
                text=cmd.text,
                created_at=now,
                recipient_online=recipient_online,
                client_message_id=cmd.client_message_id,
                delivered_at=now if reachable else None,
                customer_pos=positions[chat.customer],
                vendor_pos=positions[chat.vendor],
            )
            await repo.insert_message(conn, message)
            return Sent(chat, message, created, duplicate=False)

        try:
            return await self.db.write(work)
        except IntegrityError:
            # A concurrent retry with the same clientMessageId committed first: this whole
            # attempt rolled back, so answer with the message that won.
            if cmd.client_message_id is None:
                raise
            return await self._first_of(sender, key, cmd.client_message_id)

    async def _first_of(self, sender: User, key: ChatKey, client_message_id: str) -> Sent:
        async with self.db.read() as conn:
            first = await repo.message_by_client_id(conn, key, sender.role, client_message_id)
            if first is None:
                raise NotFound("Message not found")
            return await _duplicate(conn, key, first)

    async def delete(self, user: User, message_id: str, ref: ChatRef | None) -> Deleted:
        """Only the sender deletes; the row stays as a tombstone for reconnecting clients."""

        async def work(conn: AsyncConnection) -> Deleted:
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
            await repo.tombstone(conn, message.id, now)
            await feeds.append_feed(
                conn, (chat.customer, chat.vendor), "deleted", chat.id, now, message_id=message.id
            )
            return Deleted(chat, message, now)

        return await self.db.write(work)

    async def take_offline(self, user: User) -> tuple[list[Message], bool]:
        """The next batch of messages to `user` that reached none of their sockets, now
        counted as delivered; and whether more remain."""
        now = now_ms()

        async def work(conn: AsyncConnection) -> tuple[list[Message], bool]:
            taken, more = await repo.take_undelivered(conn, user, now, self.offline_batch)
            await record_delivery(conn, taken, now)
            return taken, more

        return await self.db.write(work)

    async def typing_chat(self, user: User, ref: ChatRef) -> str | None:
        """The chat a typing notice is about, or None while it does not exist yet."""
        key = ref.key_for(user)
        if key is None:
            raise Invalid("productId and recipientId are required")
        async with self.db.read() as conn:
            chat = await repo.chat_by_key(conn, key)
        return chat.id if chat else None


async def _duplicate(conn: AsyncConnection, key: ChatKey, first: Message) -> Sent:
    chat = await repo.chat_by_key(conn, key)
    if chat is None:  # pragma: no cover - the message's chat exists
        raise NotFound("Chat not found")
    return Sent(chat, first, created=False, duplicate=True)


def _require_new_chat_details(details: ChatDetails) -> None:
    missing = [
        name
        for name, value in (
            ("productName", details.product_name),
            ("storeName", details.store_name),
            ("customerName", details.customer_name),
        )
        if not value
    ]
    if missing:
        raise Invalid(f"A new chat needs {', '.join(missing)}")
