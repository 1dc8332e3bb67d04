"""Plain records the services hand to the transport; times are epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from slychat.domain.identity import Role, User


@dataclass(frozen=True, slots=True)
class ChatKey:
    """A chat is one product, one vendor and one customer."""

    product_id: str
    vendor_id: int
    customer_id: int

    @classmethod
    def between(cls, user: User, product_id: str, recipient_id: int) -> ChatKey:
        """The key of `user`'s chat with `recipient_id` about `product_id`."""
        if user.role is Role.CUSTOMER:
            return cls(product_id, vendor_id=recipient_id, customer_id=user.id)
        if user.role is Role.VENDOR:
            return cls(product_id, vendor_id=user.id, customer_id=recipient_id)
        raise ValueError("admins take no part in chats")

    @property
    def vendor(self) -> User:
        return User(Role.VENDOR, self.vendor_id)

    @property
    def customer(self) -> User:
        return User(Role.CUSTOMER, self.customer_id)

    def counterpart_of(self, user: User) -> User:
        """The other participant of the chat at this key; SYSTEM, who is not a
        participant, has none (ValueError)."""
        if user.role is Role.CUSTOMER:
            return self.vendor
        if user.role is Role.VENDOR:
            return self.customer
        raise ValueError(f"{user.role.value.lower()} is not a participant of a chat")


@dataclass(frozen=True, slots=True)
class ChatDetails:
    """What the first message fills in: product, store and customer display fields."""

    product_image_url: str | None = None
    product_price: str | None = None
    product_name: str | None = None
    store_logo_url: str | None = None
    customer_profile_pic: str | None = None
    customer_name: str | None = None
    store_name: str | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    key: ChatKey
    details: ChatDetails
    last_seq: int
    last_message_at: int
    created_at: int
    updated_at: int
    # The platform's contact-detail policy for this chat ("off", "mask", "refuse"); None:
    # the server's setting.
    contact_policy: str | None = None

    @property
    def vendor(self) -> User:
        return self.key.vendor

    @property
    def customer(self) -> User:
        return self.key.customer

    def has_participant(self, user: User) -> bool:
        return user in (self.vendor, self.customer)

    def counterpart_of(self, user: User) -> User:
        return self.key.counterpart_of(user)


@dataclass(frozen=True, slots=True)
class Media:
    """A file attached to a message: `key` (and `thumbnail_key`, for images) name it in
    the media store; `size` is the stored file's bytes."""

    id: str
    key: str
    mime_type: str
    size: int
    thumbnail_key: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    """One participant's reaction to a message."""

    emoji: str
    user: User
    reacted_at: int


@dataclass(frozen=True, slots=True)
class ReplyPreview:
    """The message a reply quotes, as it reads now: `text` is its first characters (None
    once deleted)."""

    id: str
    sender: User
    text: str | None
    has_media: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class MessageVersion:
    """An earlier text of an edited message (moderators only)."""

    version: int
    text: str | None
    written_at: int
    replaced_at: int


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """One user's own settings of a chat."""

    muted: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """`blocker` blocks `blocked` (their counterpart) since `blocked_at`: nothing flows
    between the two, either way, in any of their chats."""

    blocker: User
    blocked: User
    blocked_at: int


@dataclass(frozen=True, slots=True)
class BlockState:
    """A pair's block as every node's cache takes it: in force (`active`) or lifted, as
    of `changed_at` (a newer state wins, whatever order states are heard in)."""

    blocker: User
    blocked: User
    blocked_at: int
    active: bool
    changed_at: int


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    chat_id: str
    seq: int
    sender: User
    text: str | None
    created_at: int
    recipient_online: bool
    client_message_id: str | None = None
    read: bool = False
    read_at: int | None = None
    delivered_at: int | None = None
    deleted_at: int | None = None
    customer_pos: int | None = None
    vendor_pos: int | None = None
    media_count: int = 0
    media: tuple[Media, ...] = ()
    edited_at: int | None = None
    reply_to_id: str | None = None
    reply_to: ReplyPreview | None = None  # filled in with `reply_to_id`'s current state
    reaction_count: int = 0
    reactions: tuple[Reaction, ...] = ()  # oldest first
    # Contact details in the text were replaced by the mask; the original is only in the
    # database, for moderators (the admin export), never in a `Message`.
    masked: bool = False

    def feed_pos(self, viewer: User) -> int | None:
        """Where this message sits in `viewer`'s change feed."""
        return self.customer_pos if viewer.role is Role.CUSTOMER else self.vendor_pos


@dataclass(frozen=True, slots=True)
class ChatView:
    """A chat as one user sees it: a page of its messages and the user's unread count."""

    chat: Chat
    messages: list[Message] = field(default_factory=list)
    unread_count: int = 0
    has_more: bool = False
    settings: ChatSettings = ChatSettings()


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One change in a user's feed; `message` and `chat` are their current state."""

    pos: int
    kind: str
    chat_id: str
    at: int
    message_id: str | None = None
    message_ids: list[str] = field(default_factory=list)
    actor: User | None = None
    message: Message | None = None
    chat: Chat | None = None
    # What a reactions or a settings change said when it happened.
    reactions: tuple[Reaction, ...] = ()
    settings: ChatSettings | None = None
