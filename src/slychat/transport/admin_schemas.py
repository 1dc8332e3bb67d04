"""The admin API's request bodies and parameters as pydantic models, which validate them.
Its responses are described with every other reply's in `envelopes.py`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from slychat.identity import Role, User
from slychat.models import ChatKey
from slychat.services.admin import OpenChat
from slychat.transport.schemas import (
    ClientMessageId,
    HistoryPage,
    NewChatFields,
    ObjectId,
    Payload,
    ProductId,
    UserId,
)

# The service checks SLYCHAT_MAX_TEXT_LENGTH (413); this bound only keeps the parser sane.
Text = Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)]
ChatRole = Literal["CUSTOMER", "VENDOR"]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


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


class SystemMessageBody(Payload):
    """`POST /api/v1/admin/chats/{chatId}/messages`: a SYSTEM notice; a retry with the
    same `clientMessageId` is answered with the message stored the first time."""

    text: Text
    clientMessageId: ClientMessageId | None = None
