"""One `Operation` per HTTP route the app can serve: the OpenAPI document is built from
this table. A route added without its row here fails tests/e2e/test_contracts.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from slychat.contracts.openapi import Operation, Reply, Webhook, errors
from slychat.media.store import CONTENT_TYPES
from slychat.protocol import admin_requests as admin
from slychat.protocol import envelopes as e
from slychat.protocol import inbound as schemas

CHATS = "chats"
MEDIA = "media"
OPS = "operations"
CONTRACTS = "contracts"
DEMO = "demo"
ADMIN = "admin"
_ADMIN_KEY = ("apiKey", "apiKeyHeader")

MEDIA_TYPES = tuple(CONTENT_TYPES.values())  # what GET /media/{key} may answer with


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
        "/api/v1/messages/search",
        operation_id="search_messages",
        summary="The caller's messages holding every word of `q`, newest first, paged "
        "(as searchMessages)",
        tag=CHATS,
        description="Every word of `q` (letters and digits; 2 to 200 characters) must "
        "match a word of the message, the last one as a prefix; case and accents do not "
        "matter. Only the caller's chats (only `chatId` when given), never deleted messages. "
        "The next page: `before` = this page's `next`.",
        params=schemas.SearchMessagesQuery,
        replies=(
            Reply(200, "The searchMessages envelope", e.SearchResults),
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
        "/favicon.svg",
        operation_id="favicon",
        summary="The server's icon, which its pages link",
        tag=CONTRACTS,
        replies=(Reply(200, "An SVG image", media_types=("image/svg+xml",)),),
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
        "/moderation",
        operation_id="moderation_console",
        summary="The moderation console: reports and decisions, in a browser",
        tag=ADMIN,
        description="A page holding no secret: the moderator signs in with an API key with "
        "the scopes `moderation:read` and `moderation:write`, which the page keeps in the "
        "tab's sessionStorage and sends to the moderation API only. Its files are under "
        "`/moderation/`.",
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
        "PUT",
        "chats/{chatId}/contact-policy",
        "contact_policy",
        "Lift or tighten the contact-detail policy of one chat (null: the setting's)",
        "chats:write",
        Reply(200, "The chat's policy now", e.ContactPolicyReply),
        params=admin.ChatPath,
        body=admin.ContactPolicyBody,
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
    _admin(
        "GET",
        "moderation/rules",
        "moderation_rules",
        "The moderation rules, oldest first",
        "moderation:read",
        Reply(200, "Every rule", e.ModerationRules),
    ),
    _admin(
        "POST",
        "moderation/rules",
        "add_moderation_rule",
        "Add a moderation rule: a term (whole words, folded for case, accents, look-alikes "
        "and leet) or a regular expression (RE2: 400 when the linear-time engine cannot "
        "take it), and what a match does; in effect on every node within "
        "SLYCHAT_REVOCATION_POLL",
        "moderation:write",
        Reply(201, "The rule added", e.ModerationRuleAdded),
        body=admin.RuleBody,
    ),
    _admin(
        "DELETE",
        "moderation/rules/{id}",
        "delete_moderation_rule",
        "Delete a moderation rule (404 when there is none)",
        "moderation:write",
        Reply(200, "Deleted", e.ModerationRuleDeleted),
        params=admin.RulePath,
    ),
    _admin(
        "GET",
        "reports",
        "reports",
        "Reports, newest first, paged, by status and target; counts by reason",
        "moderation:read",
        Reply(200, "A page of reports (without their snapshots)", e.ReportsPage),
        params=admin.ReportsQuery,
    ),
    _admin(
        "GET",
        "reports/{reportId}",
        "report",
        "One report with its snapshot and decisions",
        "moderation:read",
        Reply(200, "The report", e.ReportReply),
        params=admin.ReportPath,
    ),
    _admin(
        "POST",
        "reports/{reportId}/resolve",
        "resolve_report",
        "Decide an open report: dismiss it, delete its message (as deleteMessage, with "
        "its emits) or suspend its target",
        "moderation:write",
        Reply(200, "The report, resolved, with the decision", e.ReportReply),
        Reply(409, "The report was resolved already", e.Error),
        params=admin.ReportPath,
        body=admin.ResolveBody,
    ),
    _admin(
        "GET",
        "reports/{reportId}/media/{mediaId}",
        "report_media",
        "A file the report's snapshot shows (its thumbnail when it has one)",
        "moderation:read",
        Reply(200, "The file", media_types=MEDIA_TYPES),
        Reply(307, "S3 store: a pre-signed URL of the file", headers=("Location",)),
        params=admin.ReportMediaPath,
    ),
    _admin(
        "POST",
        "users/{userType}/{userId}/suspend",
        "suspend_user",
        "Suspend a user (until `until`, or until lifted): sockets closed on every node "
        "within SLYCHAT_REVOCATION_POLL, handshakes and HTTP calls refused with 403",
        "moderation:write",
        Reply(200, "The suspension", e.SuspensionReply),
        params=admin.UserPath,
        body=admin.SuspendBody,
    ),
    _admin(
        "DELETE",
        "users/{userType}/{userId}/suspend",
        "lift_suspension",
        "Lift a user's suspension (404 when not suspended)",
        "moderation:write",
        Reply(200, "The suspension lifted", e.SuspensionReply),
        params=admin.UserPath,
    ),
    _admin(
        "GET",
        "users/{userType}/{userId}/suspend",
        "suspension",
        "A user's suspension in force (404 when not suspended)",
        "moderation:read",
        Reply(200, "The suspension", e.SuspensionReply),
        params=admin.UserPath,
    ),
)

WEBHOOKS: tuple[Webhook, ...] = (
    Webhook("chat.created", "A chat was created", e.ChatCreatedEvent),
    Webhook("report.created", "A report was opened", e.ReportCreatedEvent),
    Webhook("message.unread", "A user away has messages they have not read", e.MessageUnreadEvent),
)
