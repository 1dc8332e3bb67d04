"""The admin API's request bodies and parameters as pydantic models, which validate them.
Its responses are described with every other reply's in `envelopes.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from slychat.domain.identity import Role, User
from slychat.domain.models import ChatKey
from slychat.protocol.inbound import (
    ClientMessageId,
    HistoryPage,
    NewChatFields,
    Note,
    ObjectId,
    Payload,
    ProductId,
    UserId,
)
from slychat.services.admin import OpenChat
from slychat.services.moderation import Resolve

# The service checks SLYCHAT_MAX_TEXT_LENGTH (413); this bound only keeps the parser sane.
Text = Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)]
ChatRole = Literal["CUSTOMER", "VENDOR"]


def _upper(value: Any) -> Any:
    # ASCII only: some other letters upper-case into ASCII (U+0131, a dotless i, into "I").
    return value.upper() if isinstance(value, str) and value.isascii() else value


class UserPath(Payload):
    """`/api/v1/admin/users/{userType}/{userId}`: a customer or a vendor."""

    userType: Annotated[ChatRole, BeforeValidator(_upper)]
    userId: UserId

    def user(self) -> User:
        return User(Role(self.userType), self.userId)


class UserChatsQuery(UserPath):
    """`GET /api/v1/admin/users/{userType}/{userId}/chats?before&limit`."""

    before: ObjectId | None = None
    limit: Annotated[int, Field(ge=1, le=500, strict=True)] | None = None


class HistoryQuery(HistoryPage):
    """`GET /api/v1/admin/chats/{chatId}/messages?before&limit`: `before` a message id
    or a seq, as in joinChat."""

    chatId: ObjectId


class ChatPath(Payload):
    chatId: ObjectId


class OpenChatBody(NewChatFields):
    """`POST /api/v1/admin/chats`: the chat's key and the fields a first message fills
    in; with `text`, that text is the vendor's first message."""

    productId: ProductId
    vendorId: UserId
    customerId: UserId
    text: Text | None = None

    def command(self) -> OpenChat:
        key = ChatKey(self.productId, self.vendorId, self.customerId)
        return OpenChat(key, self.details(), self.text)


class ContactPolicyBody(Payload):
    """`PUT /api/v1/admin/chats/{chatId}/contact-policy`: the chat's own contact-detail
    policy, or null to follow SLYCHAT_CONTACT_POLICY."""

    policy: Literal["off", "mask", "refuse"] | None


class RulePath(Payload):
    id: ObjectId


class RuleBody(Payload):
    """`POST /api/v1/admin/moderation/rules`: a term (whole words, folded) or a regular
    expression (RE2), and what a match does. The pattern is checked by the service (400
    with the reason when the linear-time engine cannot take it)."""

    kind: Literal["term", "regex"]
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    action: Literal["mask", "refuse", "flag"]
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class SystemMessageBody(Payload):
    """`POST /api/v1/admin/chats/{chatId}/messages`: a SYSTEM notice; a retry with the
    same `clientMessageId` is answered with the message stored the first time."""

    text: Text
    clientMessageId: ClientMessageId | None = None


def _epoch_ms(value: Any) -> Any:
    """An ISO 8601 time with its offset (`2026-12-31T00:00:00Z`) -> epoch milliseconds."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time, e.g. 2026-12-31T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError("must be an ISO 8601 time, e.g. 2026-12-31T00:00:00Z") from exc
    if parsed.tzinfo is None:
        raise ValueError("must say its offset (Z or +hh:mm)")
    return int(parsed.timestamp() * 1000)


IsoTime = Annotated[int | None, BeforeValidator(_epoch_ms)]


class ReportsQuery(Payload):
    """`GET /api/v1/admin/reports?status&before&limit&targetUserType&targetUserId`."""

    status: Literal["open", "resolved"] | None = None
    before: ObjectId | None = None
    limit: Annotated[int, Field(ge=1, le=100, strict=True)] = 50
    targetUserType: Annotated[ChatRole, BeforeValidator(_upper)] | None = None
    targetUserId: UserId | None = None

    @model_validator(mode="after")
    def _whole_target(self) -> Self:
        if (self.targetUserType is None) != (self.targetUserId is None):
            raise ValueError("targetUserType and targetUserId go together")
        return self

    def target(self) -> User | None:
        if self.targetUserType is None or self.targetUserId is None:
            return None
        return User(Role(self.targetUserType), self.targetUserId)


class ReportPath(Payload):
    reportId: ObjectId


class ReportMediaPath(ReportPath):
    mediaId: ObjectId


class ResolveBody(Payload):
    """`POST /api/v1/admin/reports/{reportId}/resolve`."""

    action: Literal["dismiss", "delete_message", "suspend_user"]
    note: Note = None
    until: IsoTime = None

    def command(self) -> Resolve:
        return Resolve(self.action, self.note, self.until)


class SuspendBody(Payload):
    """`POST /api/v1/admin/users/{userType}/{userId}/suspend`: until `until`, or lifted."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    until: IsoTime = None
