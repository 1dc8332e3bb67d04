"""What happened, as the services report it: each service puts its events into the
`EventSink` right after their commit, and the container attaches the /chat presenter to it,
which turns each event into Socket.IO emits (event name, recipients, wire shape). No socket
handler or HTTP route publishes: none can commit and forget to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from slychat.domain.identity import User
from slychat.domain.models import Block, Chat, ChatSettings, Message, Reaction


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


@dataclass(frozen=True, slots=True)
class Typing:
    """`sender` started (or `stopped`) typing to `recipient` about a product; nothing is
    stored."""

    sender: User
    recipient: User
    product_id: str
    chat_id: str | None  # None while the chat does not exist yet
    stopped: bool


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """`user` came online or went offline (`last_seen` then); `audience` shares a chat
    with them."""

    user: User
    online: bool
    last_seen: int | None
    audience: tuple[User, ...]


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """`message` (its current state) was edited in `chat`; both participants learn of it."""

    chat: Chat
    message: Message


@dataclass(frozen=True, slots=True)
class ReactionsChanged:
    """The reactions of a message of `chat` are now `reactions` (oldest first)."""

    chat: Chat
    message_id: str
    reactions: tuple[Reaction, ...]


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """`user` changed their own settings of a chat; only their sockets learn of it."""

    user: User
    chat_id: str
    settings: ChatSettings


@dataclass(frozen=True, slots=True)
class BlocksChanged:
    """`user` blocked or unblocked someone: the blocks they have in force now, for their
    own sockets."""

    user: User
    blocks: tuple[Block, ...]


Event = (
    ChatStarted
    | ChatOpened
    | MessageSent
    | MessagesDelivered
    | MessagesRead
    | MessageDeleted
    | Typing
    | PresenceChanged
    | MessageEdited
    | ReactionsChanged
    | SettingsChanged
    | BlocksChanged
)
Deliver = Callable[[Sequence[Event]], Awaitable[None]]


class EventSink:
    """Where the services put what they committed, in commit order. The container attaches
    whoever tells the clients (the presenter); until then (the CLI, a service on its own in
    a test) events are dropped: nobody is connected to hear them."""

    __slots__ = ("_deliver", "_observers")

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._observers: list[Callable[[Event], None]] = []

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def observe(self, observer: Callable[[Event], None]) -> None:
        """Tell `observer` of every event too, before it is delivered (what this node
        remembers of its chats: services/recent_runs.py)."""
        self._observers.append(observer)

    async def __call__(self, events: Sequence[Event]) -> None:
        for observer in self._observers:
            for event in events:
                observer(event)
        if events and self._deliver is not None:
            await self._deliver(events)


def delivered(messages: list[Message]) -> list[MessagesDelivered]:
    """One `MessagesDelivered` per (chat, sender) of messages that just got `deliveredAt`."""
    groups: dict[tuple[str, User], list[Message]] = {}
    for m in messages:
        groups.setdefault((m.chat_id, m.sender), []).append(m)
    return [
        MessagesDelivered(chat_id, sender, tuple(m.id for m in group), group[0].delivered_at or 0)
        for (chat_id, sender), group in groups.items()
    ]
