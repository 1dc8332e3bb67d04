"""What happened, as the services report it after commit; the transport's presenter turns
each event into Socket.IO emits (event name, recipients, wire shape)."""

from __future__ import annotations

from dataclasses import dataclass

from slychat.identity import User
from slychat.models import Chat, Message


@dataclass(frozen=True, slots=True)
class ChatStarted:
    """A first message created `chat`; `recipient` learns of the chat with it."""

    chat: Chat
    message: Message
    recipient: User


@dataclass(frozen=True, slots=True)
class ChatOpened:
    """`chat` was opened without a message (the admin API); each of `viewers` learns of
    it."""

    chat: Chat
    viewers: tuple[User, ...]


@dataclass(frozen=True, slots=True)
class MessageSent:
    """`message` is stored; each of `viewers` receives it (on every socket)."""

    message: Message
    viewers: tuple[User, ...]


@dataclass(frozen=True, slots=True)
class MessagesDelivered:
    """Messages `sender` sent in one chat reached their recipient."""

    chat_id: str
    sender: User
    message_ids: tuple[str, ...]
    at: int


@dataclass(frozen=True, slots=True)
class MessagesRead:
    """`reader` read what `counterpart` sent in the chat."""

    chat_id: str
    reader: User
    counterpart: User
    message_ids: tuple[str, ...]  # the newest ones read, at most MAX_RECEIPT_IDS
    at: int
    count: int = 0  # how many were read, when more than the ids listed


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    chat: Chat
    message_id: str
    at: int


Event = ChatStarted | ChatOpened | MessageSent | MessagesDelivered | MessagesRead | MessageDeleted


def delivered(messages: list[Message]) -> list[MessagesDelivered]:
    """One `MessagesDelivered` per (chat, sender) of messages that just got `deliveredAt`."""
    groups: dict[tuple[str, User], list[Message]] = {}
    for m in messages:
        groups.setdefault((m.chat_id, m.sender), []).append(m)
    return [
        MessagesDelivered(chat_id, sender, tuple(m.id for m in group), group[0].delivered_at or 0)
        for (chat_id, sender), group in groups.items()
    ]
