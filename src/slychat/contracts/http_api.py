"""One `Operation` per HTTP route the app can serve: the OpenAPI document is built from
this table. A route added without its row here fails tests/e2e/test_contracts.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from slychat.contracts.openapi import Operation, Reply, Webhook, errors
from slychat.transport import admin_schemas as admin
from slychat.transport import envelopes as e
from slychat.transport import schemas

CHATS = "chats"
MEDIA = "media"
OPS = "operations"
CONTRACTS = "contracts"
DEMO = "demo"
ADMIN = "admin"
_ADMIN_KEY = ("apiKey", "apiKeyHeader")

MEDIA_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "application/pdf",
    "video/mp4",
    "video/webm",
    "video/quicktime",
)


class MediaKey(BaseModel):
    """`GET /media/{key}`."""

    key: Annotated[
        str,
        Field(
            description="32 characters of A-Z a-z 0-9 _ -, a dot and the stored type's "
            "extension (an unknown or malformed key is 404)",
            max_length=64,
        ),
    ]


def _admin(
    method: str, path: str, operation_id: str, summary: str, scope: str, *replies: Reply, **kw: Any
) -> Operation:
    """A route of the server-to-server API: an API key with `scope`."""
    return Operation(
        method,
        f"/api/v1/admin/{path}",
        operation_id=f"admin_{operation_id}",
        summary=summary,
        tag=ADMIN,
        description=f"Needs an API key with the scope `{scope}`.",
        replies=(*replies, *errors(400, 401, 403, 404, 413, 429, 500, 503)),
        security=_ADMIN_KEY,
        **kw,
    )


def _upload(name: str, what: str) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/chat/{name}",
        operation_id=name.replace("-", "_"),
        summary=f"Send a message with {what}",
        tag=CHATS,
        description="A multipart/form-data body: the text fields of the sendMessage event "
        "(text optional) and 1 to SLYCHAT_MEDIA_MAX_FILES files, under any field name. "
        "The file type is decided from its bytes. The message is emitted as receiveMedia "
        "(and newChat for a new chat) after it is stored.",
        body=schemas.SendMessage,
        files=f"The files: {what}",
        replies=(
            Reply(201, "Stored: the new chat with its message, or the message", e.Created),
            *errors(400, 401, 403, 413, 415, 429, 500, 503),
        ),
        security=("userJwt",),
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/v1/chat",
        operation_id="list_chats",
        summary="The caller's chats, newest first, paged (as getUserChats)",
        tag=CHATS,
        params=schemas.GetUserChats,
        replies=(
            Reply(200, "The userChats envelope", e.UserChats),
            *errors(400, 401, 403, 404, 429, 500, 503),
        ),
        security=("userJwt",),
    ),
    Operation(
        "GET",
        "/api/v1/chat/{productId:path}/{vendorId}/{customerId}",
        operation_id="read_chat",
        summary="One chat and a page of its messages; participants only, nothing marked read",
        tag=CHATS,
        description="A productId holding `/` is sent percent-encoded (%2F): the last two "
        "path segments are always the users.",
        params=schemas.ReadChat,
        replies=(
            Reply(200, "The loadMessages envelope", e.ChatPage),
            *errors(400, 401, 403, 404, 429, 500, 503),
        ),
        security=("userJwt",),
    ),
    Operation(
        "DELETE",
        "/api/v1/chat/{messageId}",
        operation_id="delete_message",
        summary="Delete one of the caller's messages (as deleteMessage, with its emits)",
        tag=CHATS,
        params=schemas.DeleteMessage,
        replies=(
            Reply(200, "The messageDeleted envelope", e.MessageDeleted),
            *errors(400, 401, 403, 404, 429, 500, 503),
        ),
        security=("userJwt",),
    ),
    _upload("send-image", "images (JPEG, PNG, WebP)"),
    _upload("send-pdf", "PDFs"),
    _upload("send-video", "videos (MP4, WebM, QuickTime)"),
    Operation(
        "GET",
        "/media/{key}",
        operation_id="media_file",
        summary="A stored file (HEAD too); keys are unguessable capabilities",
        tag=MEDIA,
        description="Served with nosniff and a sandboxing Content-Security-Policy; PDFs as "
        "attachments; Range requests answered with 206.",
        params=MediaKey,
        replies=(
            Reply(200, "The file", media_types=MEDIA_TYPES),
            Reply(206, "Part of the file (a Range request)", media_types=MEDIA_TYPES),
            Reply(307, "S3 store: a pre-signed URL of the file", headers=("Location",)),
            *errors(404),
        ),
    ),
    Operation(
        "GET",
        "/healthz",
        operation_id="healthz",
        summary="Liveness: the process serves",
        tag=OPS,
        replies=(Reply(200, "Alive", e.Health),),
    ),
    Operation(
        "GET",
        "/readyz",
        operation_id="readyz",
        summary="Readiness: database, Redis (when configured), migrations, media store",
        tag=OPS,
        replies=(
            Reply(200, "Every check passed", e.Readiness),
            Reply(503, "Some check failed: `failed` names them", e.Readiness),
        ),
    ),
    Operation(
        "GET",
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics (text format)",
        tag=OPS,
        description="Needs `Authorization: Bearer <SLYCHAT_METRICS_TOKEN>` when that "
        "setting is set; open otherwise.",
        replies=(
            Reply(200, "Every series", media_types=("text/plain",)),
            Reply(
                401,
                "SLYCHAT_METRICS_TOKEN is set and was not given",
                e.Error,
                headers=("WWW-Authenticate",),
            ),
        ),
        security=("metricsToken",),
        security_optional=True,
    ),
    Operation(
        "GET",
        "/openapi.json",
        operation_id="openapi",
        summary="This document: the routes this server serves",
        tag=CONTRACTS,
        replies=(Reply(200, "OpenAPI 3.1", media_types=("application/json",)),),
    ),
    Operation(
        "GET",
        "/asyncapi.json",
        operation_id="asyncapi",
        summary="The Socket.IO events, both directions (AsyncAPI 3.0)",
        tag=CONTRACTS,
        replies=(Reply(200, "AsyncAPI 3.0", media_types=("application/json",)),),
    ),
    Operation(
        "GET",
        "/api/docs",
        operation_id="api_docs",
        summary="This document, readable in a browser (Swagger UI)",
        tag=CONTRACTS,
        replies=(Reply(200, "An HTML page", media_types=("text/html",)),),
    ),
    Operation(
        "GET",
        "/",
        operation_id="index",
        summary="The demo chat page, or a page pointing at the docs",
        tag=DEMO,
        replies=(Reply(200, "An HTML page", media_types=("text/html",)),),
    ),
    Operation(
        "GET",
        "/demo/config.json",
        operation_id="demo_config",
        summary="What the demo page needs to know about this server",
        tag=DEMO,
        replies=(Reply(200, "The page's settings", e.DemoConfig),),
        served_when="with SLYCHAT_DEMO=1, or in dev mode",
    ),
    Operation(
        "POST",
        "/api/dev/token",
        operation_id="dev_token",
        summary="A token for the demo page",
        tag=DEMO,
        description="Same-origin JSON only, to a loopback or SLYCHAT_PUBLIC_URL host.",
        body=e.DevTokenRequest,
        replies=(Reply(200, "A token", e.DevToken), *errors(400, 403)),
        served_when="in dev mode (no JWT secret or key configured)",
    ),
    _admin(
        "GET",
        "users/{userType}/{userId}/chats",
        "user_chats",
        "A user's chats, newest first, paged",
        "chats:read",
        Reply(200, "The userChats envelope (no sync cursors in messages)", e.UserChats),
        params=admin.UserChatsQuery,
    ),
    _admin(
        "GET",
        "chats/{chatId}/messages",
        "history",
        "A chat's history, paged (`before` a message id or a seq)",
        "chats:read",
        Reply(200, "The loadMessages envelope", e.ChatPage),
        params=admin.HistoryQuery,
    ),
    _admin(
        "POST",
        "chats",
        "open_chat",
        "Open a chat between a customer and a vendor about a product, whatever the "
        "chat-start policy; with `text`, the vendor's first message",
        "chats:write",
        Reply(201, "Opened: the chat (newChat is emitted to both parties)", e.Created),
        Reply(200, "The chat already existed", e.ChatPage),
        body=admin.OpenChatBody,
    ),
    _admin(
        "POST",
        "chats/{chatId}/messages",
        "system_message",
        "Post a SYSTEM notice into a chat (emitted and synced like any message)",
        "chats:write",
        Reply(201, "Stored and emitted", e.Created),
        Reply(200, "A retry: the message stored the first time", e.MessageSent),
        params=admin.ChatPath,
        body=admin.SystemMessageBody,
    ),
    _admin(
        "GET",
        "chats/{chatId}/export",
        "export",
        "A whole chat as JSON, deleted messages included and marked",
        "chats:export",
        Reply(200, "The chat and every message", e.ChatExport),
        params=admin.ChatPath,
    ),
    _admin(
        "DELETE",
        "users/{userType}/{userId}",
        "erase_user",
        "Erase a user's data: messages become tombstones, media files are removed",
        "users:erase",
        Reply(200, "What was erased", e.Erased),
        params=admin.UserPath,
    ),
)

WEBHOOKS: tuple[Webhook, ...] = (
    Webhook("chat.created", "A chat was created", e.ChatCreatedEvent),
    Webhook("message.unread", "A user away has messages they have not read", e.MessageUnreadEvent),
)
