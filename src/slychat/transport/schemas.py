"""Inbound payloads: one pydantic model per client event. Unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from slychat import field_limits
from slychat.errors import Invalid, TooLarge
from slychat.identity import Role
from slychat.models import ChatDetails, ChatKey
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


def _role(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


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
    """Links shown to the other party must be plain http(s) URLs: no `javascript:` or
    `data:` scheme, no credentials, no whitespace or control characters."""
    if value is None or not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    if parts.username or parts.password or any(c.isspace() or ord(c) < 32 for c in value):
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
    text: str | None = None
    clientMessageId: ClientMessageId | None = None

    def command(self, max_text_length: int) -> SendCommand:
        """The message to send; its text is required, at most `max_text_length` long."""
        if self.text is None or not self.text.strip():
            raise Invalid("Invalid data provided: text is required")
        return self._command(max_text_length)

    def upload_command(self, max_text_length: int) -> SendCommand:
        """The message that carries uploaded files: its text is optional."""
        return self._command(max_text_length)

    def _command(self, max_text_length: int) -> SendCommand:
        text = self.text if self.text is not None and self.text.strip() else None
        if text is not None and len(text) > max_text_length:
            raise TooLarge(f"text is longer than {max_text_length} characters")
        return SendCommand(
            product_id=self.productId,
            recipient_id=self.recipientId,
            text=text,
            client_message_id=self.clientMessageId,
            details=self.details(),
        )


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


class CheckOnlinePresence(Payload):
    userId: UserId
    userType: Annotated[Role, BeforeValidator(_role)]


class SyncMessages(Payload):
    since: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    limit: Limit | None = None


P = TypeVar("P", bound=Payload)


def parse(model: type[P], args: tuple[Any, ...]) -> P:
    """Validate the first argument of a client event against `model`."""
    raw = args[0] if args else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Invalid("Invalid data provided: the payload must be an object")
    if not _storable(raw):
        _check_storable(raw, "")  # raises, naming the field
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise Invalid(f"Invalid data provided: {where + ': ' if where else ''}{message}") from exc


def _storable(payload: dict[str, Any]) -> bool:
    """The fast check: orjson refuses bytes and lone surrogates, and writes NUL as an
    escape, in one C call over the whole payload."""
    try:
        return b"\\u0000" not in orjson.dumps(payload)
    except TypeError:  # bytes, a lone surrogate, or an integer beyond 64 bits
        return False


_MAX_DEPTH = 16  # no event's payload is more than a few levels deep


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
