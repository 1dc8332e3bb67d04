"""Inbound payloads: one pydantic model per client event. Unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from slychat.domain import field_limits, reactions, reports, web_urls
from slychat.domain.errors import Invalid
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails, ChatKey
from slychat.protocol.cursors import CursorCodec
from slychat.services import search
from slychat.services.auth import parse_user_id
from slychat.services.chats import ChatRef, MessageCursor
from slychat.services.messages import SendCommand


def _user_id(value: Any) -> int:
    return parse_user_id(value, ValueError("must be an integer user id"))


def _scalar_to_str(value: Any) -> Any:
    """Product ids and prices arrive as strings or numbers; both are kept as text."""
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if isinstance(value, int | float):
        return str(value)
    return value


def _product_id(value: Any) -> Any:
    value = _scalar_to_str(value)
    return value.strip() if isinstance(value, str) else value


# The roles a client may name (SYSTEM is the platform's notices, never a user).
_ROLES = ("CUSTOMER", "VENDOR", "ADMIN")


def _role(value: Any) -> Any:
    # ASCII first: "adm\u0131n".upper() (a dotless i) and "cu\u017ftomer".upper() are ASCII roles.
    if not isinstance(value, str) or not value.isascii() or value.upper() not in _ROLES:
        raise ValueError(f"must be {', '.join(_ROLES[:-1])} or {_ROLES[-1]}")
    return value.upper()


# Characters that make a name display as something else: C0/C1 controls, and the bidi
# controls that reorder text (a store called "\u202egnp.exe" shows as "exe.png").
_DECEPTIVE = dict.fromkeys(
    [
        *range(0x20),
        *range(0x7F, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)


def _display_text(value: Any) -> Any:
    """Names and prices shown to the other party: deceptive characters stripped, spaces
    trimmed; nothing left means not given."""
    value = _scalar_to_str(value)
    if isinstance(value, str):
        value = " ".join(value.translate(_DECEPTIVE).split())
        return value or None
    return value


def _web_url(value: Any) -> Any:
    """Links shown to the other party must be plain http(s) URLs, read the way browsers
    read them (`domain/web_urls.py`): no `javascript:` or `data:` scheme, no credentials,
    backslashes, whitespace or control characters, no host spelt in disguise."""
    if value is None or not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    if web_urls.parse(value) is None:
        raise ValueError("must be a plain http or https URL")
    return value


UserId = Annotated[int, BeforeValidator(_user_id)]
ProductId = Annotated[
    str,
    BeforeValidator(_product_id),
    StringConstraints(min_length=1, max_length=field_limits.PRODUCT_ID),
]
ObjectId = Annotated[
    str,
    BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
    StringConstraints(min_length=1, max_length=field_limits.OBJECT_ID),
]
# The length limit applies to the text; null stays allowed (the union is outermost).
Name = Annotated[
    Annotated[str, StringConstraints(max_length=field_limits.NAME)] | None,
    BeforeValidator(_display_text),
]
Price = Annotated[
    Annotated[str, StringConstraints(max_length=field_limits.PRODUCT_PRICE)] | None,
    BeforeValidator(_display_text),
]
WebUrl = Annotated[
    Annotated[str, StringConstraints(max_length=field_limits.URL)] | None,
    BeforeValidator(_web_url),
]
Limit = Annotated[int, Field(ge=1, le=200, strict=True)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChatRefPayload(Payload):
    chatId: ObjectId | None = None
    productId: ProductId | None = None
    recipientId: UserId | None = None

    @model_validator(mode="after")
    def _names_a_chat(self) -> Self:
        if self.chatId is None and (self.productId is None or self.recipientId is None):
            raise ValueError("chatId, or productId and recipientId, are required")
        return self

    def ref(self) -> ChatRef:
        return ChatRef(self.chatId, self.productId, self.recipientId)


# Sequence numbers are BIGINT; a larger `before` cannot name a message.
_MAX_SEQ = 2**62


class HistoryPage(Payload):
    """A page of a chat's history: `before` (a message id or a seq) and `limit`."""

    before: ObjectId | Annotated[int, Field(ge=1, le=_MAX_SEQ, strict=True)] | None = None
    limit: Limit | None = None

    @model_validator(mode="after")
    def _seq_in_range(self) -> Self:
        b = self.before
        if isinstance(b, str) and b.isascii() and b.isdigit() and not 1 <= int(b) <= _MAX_SEQ:
            raise ValueError("before: no message has that seq")
        return self

    def cursor(self) -> MessageCursor | None:
        if self.before is None:
            return None
        if isinstance(self.before, int):
            return MessageCursor(seq=self.before)
        if self.before.isascii() and self.before.isdigit():
            return MessageCursor(seq=int(self.before))
        return MessageCursor(message_id=self.before)


class JoinChat(ChatRefPayload, HistoryPage):
    pass


class ReadChat(HistoryPage):
    """`GET /api/v1/chat/{productId}/{vendorId}/{customerId}`: the path's parts and the
    query's `before` and `limit`."""

    productId: ProductId
    vendorId: UserId
    customerId: UserId

    def key(self) -> ChatKey:
        return ChatKey(self.productId, self.vendorId, self.customerId)


class MarkAsRead(ChatRefPayload):
    pass


class GetUserChats(Payload):
    before: ObjectId | None = None
    limit: Annotated[int, Field(ge=1, le=500, strict=True)] | None = None
    archived: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="List the chats the caller archived (only those)"
    )


ClientMessageId = Annotated[
    str, StringConstraints(min_length=1, max_length=field_limits.CLIENT_MESSAGE_ID)
]


class NewChatFields(Payload):
    """What a chat's first message (or the platform opening it) fills the chat with; once
    the chat exists they are ignored."""

    productName: Name = None
    productPrice: Price = None
    productImageUrl: WebUrl = None
    storeName: Name = None
    storeLogoUrl: WebUrl = None
    customerName: Name = None
    customerProfilePic: WebUrl = None

    def details(self) -> ChatDetails:
        return ChatDetails(
            product_image_url=self.productImageUrl,
            product_price=self.productPrice,
            product_name=self.productName,
            store_logo_url=self.storeLogoUrl,
            customer_profile_pic=self.customerProfilePic,
            customer_name=self.customerName,
            store_name=self.storeName,
        )


class SendMessage(NewChatFields):
    productId: ProductId
    recipientId: UserId
    # Required unless files are attached; the message service applies the text rules
    # (services/text_rules.py), the same for sends and edits.
    text: str | None = None
    clientMessageId: ClientMessageId | None = None
    replyTo: ObjectId | None = Field(
        default=None, description="The id of a message of the same chat this one answers"
    )

    def command(self) -> SendCommand:
        return SendCommand(
            product_id=self.productId,
            recipient_id=self.recipientId,
            text=self.text,
            client_message_id=self.clientMessageId,
            details=self.details(),
            reply_to=self.replyTo,
        )


class EditMessage(Payload):
    messageId: ObjectId
    text: str


def _emoji(value: Any) -> Any:
    if isinstance(value, str) and not reactions.is_one_emoji(value):
        raise ValueError("must be exactly one emoji")
    return value


class AddReaction(Payload):
    messageId: ObjectId
    emoji: Annotated[
        str,
        StringConstraints(min_length=1, max_length=field_limits.EMOJI),
        AfterValidator(_emoji),
    ]


class RemoveReaction(Payload):
    messageId: ObjectId


class UpdateChatSettings(Payload):
    chatId: ObjectId
    muted: Annotated[bool, Field(strict=True)] | None = None
    archived: Annotated[bool, Field(strict=True)] | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.muted is None and self.archived is None:
            raise ValueError("muted or archived is required")
        return self


class DeleteMessage(Payload):
    messageId: ObjectId
    productId: ProductId | None = None
    recipientId: UserId | None = None

    def ref(self) -> ChatRef | None:
        if self.productId is None or self.recipientId is None:
            return None
        return ChatRef(None, self.productId, self.recipientId)


class Typing(Payload):
    productId: ProductId
    recipientId: UserId

    def ref(self) -> ChatRef:
        return ChatRef(None, self.productId, self.recipientId)


Reason = Literal["spam", "scam", "harassment", "off_platform", "inappropriate", "other"]


def _note(value: Any) -> Any:
    """A reporter's or moderator's note: spaces trimmed, blank means none."""
    if isinstance(value, str):
        return value.strip() or None
    return value


Note = Annotated[
    Annotated[str, StringConstraints(max_length=reports.NOTE_LENGTH)] | None,
    BeforeValidator(_note),
]


class ReportMessage(Payload):
    messageId: ObjectId
    reason: Reason
    note: Note = None


class ReportUser(Payload):
    userId: UserId
    userType: Annotated[Literal["CUSTOMER", "VENDOR"], BeforeValidator(_role)]
    reason: Reason
    note: Note = None
    chatId: ObjectId | None = None

    def target(self) -> User:
        return User(Role(self.userType), self.userId)


class CheckOnlinePresence(Payload):
    userId: UserId
    userType: Annotated[Literal["CUSTOMER", "VENDOR", "ADMIN"], BeforeValidator(_role)]


class BlockUser(Payload):
    """blockUser and unblockUser: the counterpart to block (or unblock); a role that is
    not the caller's counterpart is refused by the service (400)."""

    userId: UserId
    userType: Annotated[Literal["CUSTOMER", "VENDOR", "ADMIN"], BeforeValidator(_role)]

    def user(self) -> User:
        return User(Role(self.userType), self.userId)


class GetBlockedUsers(Payload):
    """getBlockedUsers takes nothing."""


class SyncMessages(Payload):
    since: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    limit: Limit | None = None


class _Search(Payload):
    """What searchMessages and `GET /api/v1/messages/search` share: the chat to search in
    (all of the caller's when absent), `before` (a page's `next`) and `limit`."""

    chatId: ObjectId | None = None
    before: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    limit: Annotated[int, Field(ge=1, le=search.MAX_LIMIT, strict=True)] | None = None

    def after(self, cursors: CursorCodec, user: User) -> search.SearchPosition | None:
        """Where the page starts: after the message `before` names (a `next` this server
        gave `user`); anything else is refused rather than read as the first page."""
        if self.before is None:
            return None
        position = cursors.decode_search(self.before, user)
        if position is None:
            raise Invalid("before: must be the next of an earlier page of this search")
        return position


# Its words and its least length are checked by services/search.py (`words`).
_QueryText = Annotated[str, StringConstraints(max_length=search.MAX_QUERY)]


class SearchMessages(_Search):
    """`searchMessages`: `query` is 2 to 200 characters, every word of it must match (the
    last one as a prefix), case and accents aside."""

    query: _QueryText

    def words(self) -> tuple[str, ...]:
        return search.words_of(self.query)


class SearchMessagesQuery(_Search):
    """`GET /api/v1/messages/search`: the query string's `q` is searchMessages' `query`."""

    q: _QueryText

    def words(self) -> tuple[str, ...]:
        return search.words_of(self.q)


P = TypeVar("P", bound=Payload)


def parse(model: type[P], args: tuple[Any, ...]) -> P:
    """Validate the first argument of a client event against `model`."""
    raw = args[0] if args else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Invalid("Invalid data provided: the payload must be an object")
    if not _storable(raw) or _deeper_than_allowed(raw):
        _check_storable(raw, "")  # raises, naming the field
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(f"Invalid data provided: {_described(exc.errors())}") from exc


# What a value of the wrong JSON type should have been, by pydantic's error type.
_WANTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "list_type": "a list",
}


def _described(errors: list[ErrorDetails]) -> str:
    """The first failing field and why, in the protocol's words: never pydantic's own
    messages, nor the names it gives the members of a union (`before` is a message id or a
    seq), which say how the validator is built rather than what the client sent."""
    field = errors[0]["loc"][0] if errors[0]["loc"] else None
    # The loc's first part is the field (payloads are flat); the rest names union members.
    mine = [e for e in errors if (e["loc"][0] if e["loc"] else None) == field]
    # A union fails in every member; the member of the value's own type says what is wrong.
    fitting = [e for e in mine if e["type"] not in _WANTED] or mine
    if all(e["type"] in _WANTED for e in fitting):
        wanted = dict.fromkeys(_WANTED[e["type"]] for e in fitting)
        reason = "must be " + " or ".join(wanted)
    else:
        reason = _reason(fitting[0])
    return reason if field is None else f"{field}: {reason}"


def _reason(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":  # the schemas' own validators: already the protocol's words
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return "is required"
    if kind in ("literal_error", "enum"):  # the values it takes, quoted
        return f"must be {ctx['expected']}"
    if kind in ("string_too_long", "too_long"):
        return f"must be at most {ctx['max_length']} characters long"
    if kind in ("string_too_short", "too_short"):
        least = ctx["min_length"]
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "less_than_equal": ("at most", "le"),
        "greater_than": ("more than", "gt"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx[key]}"
    return "is not a value this field takes"


def _storable(payload: dict[str, Any]) -> bool:
    """The fast check: orjson refuses bytes and lone surrogates, and writes NUL as an
    escape, in one C call over the whole payload."""
    try:
        return b"\\u0000" not in orjson.dumps(payload)
    except TypeError:  # bytes, a lone surrogate, or an integer beyond 64 bits
        return False


_MAX_DEPTH = 16  # no event's payload is more than a few levels deep


def _deeper_than_allowed(payload: dict[str, Any]) -> bool:
    """Whether a value sits more than `_MAX_DEPTH` levels below the payload (orjson reads
    and writes 254 levels, so `_storable` does not see it). Only containers are followed:
    a flat payload costs one look at each of its values."""
    level: list[Any] = [payload]
    for _ in range(_MAX_DEPTH):
        level = [
            item
            for container in level
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, dict | list)
        ]
        if not level:
            return False
    return any(level)  # a non-empty container at the deepest allowed level


def _check_storable(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what no database column can hold: binary values, NUL characters (PostgreSQL
    text cannot store them) and lone surrogates (not valid UTF-8); and payloads nested
    deeper than any event needs."""
    if depth > _MAX_DEPTH:
        raise Invalid("Invalid data provided: the payload is nested too deeply")
    if isinstance(value, bytes | bytearray):
        raise Invalid(
            f"Invalid data provided: {where or 'payload'}: binary values are not accepted"
        )
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            ok = False
        else:
            ok = "\x00" not in value
        if not ok:
            raise Invalid(
                f"Invalid data provided: {where or 'payload'}: contains characters "
                "that cannot be stored"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(item, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_storable(item, f"{where}.{i}" if where else str(i), depth + 1)
