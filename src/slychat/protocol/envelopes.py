"""Outbound shapes as pydantic models: what `outbound.py` and the presenter build as dicts.

The server never builds its replies through these models (the send path stays on plain
dicts); they exist so that the OpenAPI and AsyncAPI documents describe every reply from
one place, and tests validate payloads captured from a live server against them. Every
model forbids fields it does not name, so a field added to a reply without its model
fails those tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from slychat.domain.identity import Role


def _no_default(schema: dict[str, Any]) -> None:
    # Absent is what "no value" means here; a default of null would say it may be null.
    schema.pop("default", None)


def _optional(description: str) -> Any:
    """A field that is left out, rather than null, when it does not apply."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Timestamp = datetime  # ISO 8601 in UTC with milliseconds: 2026-11-24T10:08:53.505Z
EmptyObject = Annotated[dict[str, Any], Field(max_length=0)]


class Error(Shape):
    """The error object: an event's ack and appError, an HTTP error body, connect_error."""

    error: Literal[True]
    message: str
    statusCode: int
    retryAfter: float | SkipJsonSchema[None] = _optional(
        "429 and 503 only: seconds until the limit allows the request again (429), or"
        " after which a retry may succeed (503: a dependency is away for now)"
    )


class ConnectRefused(Shape):
    """The payload of Socket.IO's connect_error packet: the refusal's text, and the error
    object as its `data`."""

    message: str
    data: Error


class MediaItem(Shape):
    """A file attached to a message."""

    id: str
    imageUrl: str = Field(description="Where to fetch the file (PDFs and videos included)")
    url: str = Field(description="The same URL")
    size: str = Field(description="The stored file's size in bytes, as digits")
    mimeType: str
    thumbnailUrl: str | SkipJsonSchema[None] = _optional("Images only")
    width: int | SkipJsonSchema[None] = _optional("Images only: pixels, upright")
    height: int | SkipJsonSchema[None] = _optional("Images only: pixels, upright")


class ReactionItem(Shape):
    """One participant's reaction (each holds at most one per message)."""

    emoji: str = Field(description="Exactly one emoji")
    userId: int
    userType: Role
    reactedAt: Timestamp


class ReplyPreview(Shape):
    """The message a reply quotes, as it reads now (after edits; deleted since: text null)."""

    id: str
    senderId: int
    senderType: Role
    text: str | None = Field(description="At most its first 200 characters; null once deleted")
    hasMedia: bool
    deleted: bool


class Message(Shape):
    """One message, as one viewer sees it (`syncCursor` is the viewer's own)."""

    id: str
    chatId: str
    seq: int = Field(ge=1)
    senderId: int
    senderType: Role
    text: str | None
    timestamp: Timestamp
    read: bool
    readAt: Timestamp | None
    recipientOnline: bool
    deliveredAt: Timestamp | None
    clientMessageId: str | None
    deletedAt: Timestamp | None
    messageMedias: list[MediaItem]
    messageMedia: list[MediaItem] = Field(description="The same list as messageMedias")
    messageImages: list[MediaItem] = Field(description="The same list as messageMedias")
    syncCursor: str | None
    editedAt: Timestamp | None = Field(description="When the text was last edited; null if never")
    reactions: list[ReactionItem] = Field(description="Oldest first; empty when none")
    replyTo: ReplyPreview | None = Field(description="The message this one answers, if any")
    masked: bool = Field(
        description="Contact details in the text were replaced by the server's mask "
        "(SLYCHAT_CONTACT_POLICY=mask); false otherwise"
    )


class Chat(Shape):
    """A chat as one user sees it, with a page of its messages (oldest first)."""

    id: str
    productId: str
    vendorId: int
    customerId: int
    productImageUrl: str | None
    productPrice: str | None
    productName: str | None
    storeLogoUrl: str | None
    customerProfilePic: str | None
    customerName: str | None
    storeName: str | None
    lastMessageAt: Timestamp
    createdAt: Timestamp
    updatedAt: Timestamp
    messages: list[Message]
    unreadCount: int = Field(ge=0)
    hasMore: bool
    muted: bool = Field(description="The viewer muted the chat: no message.unread webhook")
    archived: bool = Field(description="The viewer archived the chat: listed only when asked")
    blocked: bool = Field(
        description="The viewer blocks the other party: nothing flows between them, in "
        "any of their chats, until the viewer unblocks them"
    )


class Ok(Shape):
    statusCode: Literal[200]
    error: Literal[False]
    message: str


# --- server events -----------------------------------------------------------------------


class UserChats(Ok):
    """`userChats`, and the body of `GET /api/v1/chat`: a page of the caller's chats."""

    data: list[Chat]
    totalUnread: int = Field(ge=0)
    hasMore: bool
    syncCursor: str


class ChatPage(Ok):
    """`loadMessages`, and the body of `GET /api/v1/chat/{productId}/{vendorId}/{customerId}`."""

    data: Chat


class ReceiveMessage(Shape):
    """`receiveMessage` and `receiveMedia`: a list holding the one message."""

    statusCode: Literal[200]
    error: Literal[False]
    message: None
    data: Annotated[list[Message], Field(min_length=1, max_length=1)]


class NewChat(Shape):
    """`newChat`: the chat sits in `message` (as the original system sent it), `data` is {}."""

    statusCode: Literal[200]
    error: Literal[False]
    message: Chat
    data: EmptyObject


class DeliveredData(Shape):
    chatId: str
    messageIds: list[str]
    deliveredAt: Timestamp


class MessagesDelivered(Ok):
    data: DeliveredData


class ReadData(Shape):
    chatId: str
    readerId: int
    readerType: Role
    readAt: Timestamp
    messageIds: list[str] = Field(description="At most the 1,000 newest messages marked")
    count: int = Field(ge=0, description="How many messages were marked read")
    hasMore: bool = Field(description="More were marked read than messageIds lists")


class ReadReceipts(Ok):
    """`updateReadReceipts`, and the ack of `markAsRead`."""

    data: ReadData


class DeletedData(Shape):
    chatId: str
    messageId: str
    deletedAt: Timestamp


class MessageDeleted(Ok):
    """`messageDeleted`, the ack of `deleteMessage`, the body of `DELETE /api/v1/chat/{id}`."""

    data: DeletedData


class MessageEdited(Ok):
    """`messageEdited`, and the ack of `editMessage`: the message with its new text."""

    data: Message


class ReactionsData(Shape):
    chatId: str
    messageId: str
    reactions: list[ReactionItem] = Field(description="All of the message's, oldest first")


class MessageReactions(Ok):
    """`messageReactions`, and the ack of `addReaction` and `removeReaction`."""

    data: ReactionsData


class ChatSettingsData(Shape):
    chatId: str
    muted: bool
    archived: bool


class ChatSettings(Ok):
    """`chatSettings` (to the user's own sockets), and the ack of `updateChatSettings`."""

    data: ChatSettingsData


class TypingData(Shape):
    chatId: str | None = Field(description="null before the chat exists")
    productId: str
    senderId: int
    senderType: Role


class TypingNotice(Ok):
    """`userTyping` and `stoppedTyping`, and the acks of `typing` and `stoppedTyping`."""

    data: TypingData


class MessageChange(Shape):
    type: Literal["message"]
    chatId: str
    message: Message


class ChatChange(Shape):
    type: Literal["chat"]
    chatId: str
    chat: Chat


class ReadChange(Shape):
    type: Literal["read"]
    chatId: str
    messageIds: list[str]
    readAt: Timestamp | None
    readerId: int | None
    readerType: Role | None


class DeliveredChange(Shape):
    type: Literal["delivered"]
    chatId: str
    messageIds: list[str]
    deliveredAt: Timestamp | None


class DeletedChange(Shape):
    type: Literal["deleted"]
    chatId: str
    messageId: str | None
    deletedAt: Timestamp | None


class EditedChange(Shape):
    type: Literal["edited"]
    chatId: str
    message: Message = Field(description="The message as it reads now")


class ReactionsChange(Shape):
    type: Literal["reactions"]
    chatId: str
    messageId: str
    reactions: list[ReactionItem] = Field(description="The message's reactions after it")


class SettingsChange(Shape):
    type: Literal["settings"]
    chatId: str
    muted: bool
    archived: bool


Change = Annotated[
    MessageChange
    | ChatChange
    | ReadChange
    | DeliveredChange
    | DeletedChange
    | EditedChange
    | ReactionsChange
    | SettingsChange,
    Field(discriminator="type"),
]


class SyncData(Shape):
    changes: list[Change]
    hasMore: bool
    syncCursor: str
    reset: Literal[True] | SkipJsonSchema[None] = _optional(
        "The cursor could not be honoured: reload the chat list, then sync from here"
    )
    pushed: Literal[True] | SkipJsonSchema[None] = _optional(
        "Sent by the server without being asked: the fan-out between nodes broke and came"
        " back, and these are changes this socket was not sent meanwhile. Merge it as the"
        " answer to a syncMessages of your own (by message id and seq) and keep its"
        " syncCursor; no ack goes with it"
    )


class SyncChanges(Ok):
    """`syncMessages` (the server event): the changes since the client's cursor."""

    data: SyncData


class OfflineMessages(Ok):
    """`offlineMessages`: messages that reached none of the user's sockets."""

    data: list[Message]
    hasMore: bool


class UserData(Shape):
    userId: int
    userType: Role


class UserIsOnline(Ok):
    data: UserData


class OfflineUserData(UserData):
    lastSeen: Timestamp | None


class UserIsOffline(Ok):
    data: OfflineUserData


class PresenceData(UserData):
    status: Literal["online", "offline"]
    lastSeen: Timestamp | None


class OnlinePresence(Ok):
    """`onlinePresence`, and the ack of `checkOnlinePresence`."""

    data: PresenceData


class SearchData(Shape):
    messages: list[Message] = Field(description="Newest first")
    hasMore: bool
    next: str | None = Field(
        description="Ask for the next page with `before` set to this; null on the last page"
    )


class SearchResults(Ok):
    """`searchMessages`, and the body of `GET /api/v1/messages/search`: a page of the
    caller's messages that match the query."""

    data: SearchData


# --- acks of list requests: how much the reply event carried ------------------------------


class ListCount(Shape):
    count: int = Field(ge=0)
    hasMore: bool


class JoinChatCount(ListCount):
    chatId: str


class JoinChatAck(Ok):
    data: JoinChatCount


class UserChatsCount(ListCount):
    syncCursor: str
    totalUnread: int = Field(ge=0)


class UserChatsAck(Ok):
    """The ack of `getUserChats` and `joinRooms`."""

    data: UserChatsCount
    syncCursor: str
    totalUnread: int = Field(ge=0)


class SyncCount(ListCount):
    syncCursor: str
    reset: Literal[True] | SkipJsonSchema[None] = _optional("As in the syncMessages event")


class SyncAck(Ok):
    data: SyncCount


class SearchCount(ListCount):
    next: str | None


class SearchAck(Ok):
    data: SearchCount


class OfflineAck(Ok):
    data: ListCount


class BlockedUsersAck(Ok):
    """The ack of `getBlockedUsers`."""

    data: ListCount


# --- blocks -------------------------------------------------------------------------------


class BlockedUser(Shape):
    userId: int
    userType: Literal["CUSTOMER", "VENDOR"]
    blockedAt: Timestamp = Field(description="Since when (blocking again keeps it)")


class BlockedUsers(Ok):
    """`blockedUsers`: every user the caller blocks, oldest block first; emitted to the
    caller's sockets after each change too."""

    data: list[BlockedUser]
    hasMore: Literal[False] = Field(description="Always false: the list is whole")


class BlockData(Shape):
    userId: int
    userType: Literal["CUSTOMER", "VENDOR"]
    blocked: bool = Field(description="Whether the caller blocks this user now")
    blockedAt: Timestamp | None = Field(description="Since when; null once unblocked")


class BlockAck(Ok):
    """The ack of `blockUser` and `unblockUser`."""

    data: BlockData


class MessageSent(Ok):
    """The ack of `sendMessage`: the sender's copy of the message."""

    data: Message


# --- the admin API -----------------------------------------------------------------------


class MessageVersion(Shape):
    """An earlier text of an edited message: moderators only, never sent to clients."""

    version: int = Field(ge=1)
    text: str | None
    writtenAt: Timestamp = Field(description="When this text was sent or edited in")
    replacedAt: Timestamp = Field(description="When an edit replaced it")


class ExportedMessage(Message):
    deleted: bool = Field(description="Deleted by its sender: kept in an export, marked")
    versions: list[MessageVersion] = Field(
        description="The earlier texts of an edited message, oldest first (a deleted "
        "message's are erased with it)"
    )
    originalText: str | None = Field(
        description="What the sender wrote, when contact details were masked in `text` "
        "(moderators only: never in an event, ack, listing, sync, search or webhook); "
        "null otherwise"
    )


class ChatExportData(Shape):
    chat: Chat
    messages: list[ExportedMessage] = Field(description="Every message, oldest first")


class ChatExport(Ok):
    """A whole chat for dispute resolution, deleted messages included and marked."""

    data: ChatExportData


class ContactPolicySet(Shape):
    chatId: str
    policy: str | None = Field(description="off, mask or refuse; null: the server's setting")


class ContactPolicyReply(Ok):
    data: ContactPolicySet


class ModerationRule(Shape):
    id: str
    kind: Literal["term", "regex"]
    pattern: str
    action: Literal["mask", "refuse", "flag"]
    note: str | None
    createdAt: str
    keyId: str = Field(description="The API key that added the rule")


class ModerationRuleList(Shape):
    rules: list[ModerationRule] = Field(description="Every rule, oldest first")


class ModerationRules(Ok):
    data: ModerationRuleList


class ModerationRuleAdded(Shape):
    statusCode: Literal[201]
    error: Literal[False]
    message: str
    data: ModerationRule


class ModerationRuleId(Shape):
    id: str


class ModerationRuleDeleted(Ok):
    data: ModerationRuleId


class ErasureCounts(Shape):
    messagesErased: int
    mediaFilesRemoved: int
    chatsCleared: int
    lastSeenRemoved: bool


class Erased(Ok):
    data: ErasureCounts


# --- moderation: reports and suspensions -----------------------------------------------

ReportReason = Literal["spam", "scam", "harassment", "off_platform", "inappropriate", "other"]


class ReportReceivedData(Shape):
    id: str
    status: Literal["open", "resolved"]


class ReportReceived(Shape):
    """The ack of reportMessage and reportUser: 201 for a new report, 200 with the
    reporter's open report about the same target (a duplicate folds into it)."""

    statusCode: Literal[200, 201]
    error: Literal[False]
    message: str
    data: ReportReceivedData


class ReportReporter(Shape):
    userId: int = Field(description="0 for SYSTEM")
    userType: Literal["CUSTOMER", "VENDOR", "SYSTEM"]


class ReportTarget(Shape):
    kind: Literal["message", "user"]
    userId: int
    userType: Literal["CUSTOMER", "VENDOR"]
    messageId: str | None = Field(description="A message report's message")
    chatId: str | None = Field(
        description="The chat of the message, or the one a user report names"
    )


class ReportDecision(Shape):
    action: Literal["dismiss", "delete_message", "suspend_user", "lift"]
    note: str | None
    until: Timestamp | None = Field(description="suspend_user: when it ends; null: until lifted")
    keyId: str = Field(description="The API key that decided")
    keyName: str = Field(description="Its name when it decided")
    decidedAt: Timestamp


class SnapshotVersion(Shape):
    text: str | None
    editedAt: Timestamp | None = Field(description="When an edit wrote this text; null: as sent")
    writtenAt: Timestamp
    replacedAt: Timestamp = Field(description="When an edit replaced it")


class SnapshotMessage(Message):
    originalText: str | None = Field(
        description="What the sender wrote when contact details were masked in `text`"
    )
    versions: list[SnapshotVersion] = Field(description="Earlier texts, oldest first")


class SnapshotMedia(Shape):
    messageId: str
    mediaId: str = Field(description="GET /api/v1/admin/reports/{reportId}/media/{mediaId}")
    mimeType: str


class ReportSnapshot(Shape):
    """What the reported message and the messages around it looked like when the report
    was made; later edits and deletes never change it."""

    message: SnapshotMessage | None = Field(description="The reported message; null: a user report")
    context: list[Message] = Field(
        description="The 20 messages around it (a user report: the chat's latest 50), oldest first"
    )
    media: list[SnapshotMedia]


class Report(Shape):
    id: str
    status: Literal["open", "resolved"]
    reason: ReportReason
    note: str | None
    createdAt: Timestamp
    automatic: bool = Field(description="Opened by the server (reporter SYSTEM)")
    reporter: ReportReporter
    target: ReportTarget
    targetOpenReports: int = Field(ge=0, description="Open reports against the target user")
    decisions: list[ReportDecision] = Field(description="Oldest first")


class ReportWithSnapshot(Report):
    snapshot: ReportSnapshot


class ReportCounts(Shape):
    spam: int
    scam: int
    harassment: int
    off_platform: int
    inappropriate: int
    other: int


class ReportList(Shape):
    reports: list[Report] = Field(description="Newest first")
    hasMore: bool
    next: str | None = Field(description="`before` of the next page")
    countsByReason: ReportCounts = Field(description="Every report the filters match")


class ReportsPage(Ok):
    data: ReportList


class ReportReply(Ok):
    data: ReportWithSnapshot


class SuspensionData(Shape):
    userId: int
    userType: Literal["CUSTOMER", "VENDOR"]
    reason: str
    until: Timestamp | None = Field(description="null: until lifted")
    suspendedAt: Timestamp
    keyId: str | None = Field(description="The API key that suspended")


class SuspensionReply(Ok):
    data: SuspensionData


# --- webhooks (the bodies slychat POSTs to SLYCHAT_WEBHOOK_URL) --------------------------


class WebhookChat(Shape):
    """A chat as a webhook names it: its key and display fields, never its messages."""

    id: str
    productId: str
    vendorId: int
    customerId: int
    productName: str | None
    productPrice: str | None
    productImageUrl: str | None
    storeName: str | None
    storeLogoUrl: str | None
    customerName: str | None
    customerProfilePic: str | None
    createdAt: Timestamp


class _WebhookEvent(Shape):
    id: str = Field(description="The event's idempotency id: the Webhook-Id header")
    createdAt: Timestamp = Field(description="When the event happened, not this attempt")


class ChatCreatedData(Shape):
    chat: WebhookChat


class ChatCreatedEvent(_WebhookEvent):
    """`chat.created`: a chat was created, by its first message or through the admin API."""

    type: Literal["chat.created"]
    data: ChatCreatedData


class WebhookRecipient(Shape):
    id: int
    type: Literal["CUSTOMER", "VENDOR"]


class UnreadChatSummary(WebhookChat):
    unreadCount: int = Field(ge=0, description="The recipient's unread messages in it now")
    lastMessageId: str = Field(description="The newest message this notice reports")
    lastMessageAt: Timestamp


class MessageUnreadData(Shape):
    recipient: WebhookRecipient
    unreadCount: int = Field(ge=0, description="The sum of the chats' unreadCount")
    chats: list[UnreadChatSummary] = Field(min_length=1, description="Newest first")


class MessageUnreadEvent(_WebhookEvent):
    """`message.unread`: a user away for SLYCHAT_UNREAD_DELAY has messages they have not
    read; one call per recipient lists their chats (never the messages' text)."""

    type: Literal["message.unread"]
    data: MessageUnreadData


class ReportCreatedEvent(_WebhookEvent):
    """`report.created`: a report was opened (by a user, or automatically); the report
    as the moderation API lists it, without its snapshot."""

    type: Literal["report.created"]
    data: Report


# --- HTTP only ----------------------------------------------------------------------------


class Created(Shape):
    """201 of an upload: the new chat with its one message, or the message."""

    statusCode: Literal[201]
    error: Literal[False]
    message: str
    data: Chat | Message


class Health(Shape):
    status: Literal["ok"]


CheckResult = Literal["ok", "failed", "timeout", "not at head"]


class Readiness(Shape):
    """`GET /readyz`: each check's outcome; `failed` names those that did not pass."""

    status: Literal["ready", "not ready"]
    checks: dict[str, CheckResult]
    failed: list[str] | SkipJsonSchema[None] = _optional("503 only: the checks that failed")


class DevTokenRequest(BaseModel):
    """`POST /api/dev/token` (dev mode only)."""

    role: Literal["customer", "vendor"]
    id: int


class DevTokenData(Shape):
    token: str
    userId: int
    userType: Role
    expiresIn: int


class DevToken(Ok):
    data: DevTokenData


class DemoConfig(Shape):
    """`GET /demo/config.json`: what the demo page needs to know about this server."""

    devMode: bool
    clientLibrary: bool
    imageOrigins: list[str]
    imageHosts: list[str]
    chatStarters: list[Role]
    transports: list[str]
    maxTextLength: int
    maxFiles: int
    maxImageBytes: int
    maxPdfBytes: int
