"""Outbound shapes: the bodies the server emits and answers with (docs/protocol.md), one
builder per event. Only the presenter (sockets/presenter.py) and the HTTP routes call them;
tests/sockets/test_presenter.py checks each against the AsyncAPI document."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from slychat.domain.errors import AppError, RateLimited, Unavailable
from slychat.domain.identity import User
from slychat.domain.ids import iso
from slychat.domain.models import (
    Block,
    Chat,
    ChatSettings,
    ChatView,
    FeedEntry,
    Media,
    Message,
    MessageVersion,
    Reaction,
    ReplyPreview,
)
from slychat.domain.reports import (
    REASONS,
    Report,
    ReportPage,
    Suspension,
    report_json,
    suspension_json,
)
from slychat.protocol.types import CursorOf as CursorOf
from slychat.protocol.types import Json as Json
from slychat.protocol.types import UrlOf as UrlOf
from slychat.services.events import MessageDeleted, MessagesDelivered, MessagesRead, Typing
from slychat.services.presence import PresenceStatus
from slychat.storage.moderation_rules import RuleRow


def ok(message: Any, data: Any) -> Json:
    return {"statusCode": 200, "error": False, "message": message, "data": data}


def error(exc: AppError) -> Json:
    body: Json = {"error": True, "message": exc.message, "statusCode": exc.status_code}
    if isinstance(exc, RateLimited | Unavailable):
        body["retryAfter"] = round(exc.retry_after, 3)
    return body


def report_received(r: Report, *, created: bool) -> Json:
    """The ack of reportMessage and reportUser: 201, or 200 with the reporter's report
    about the same target that is still open."""
    return ok("Report received", {"id": r.id, "status": r.status}) | {
        "statusCode": 201 if created else 200
    }


def report(r: Report, *, with_snapshot: bool = False) -> Json:
    """A report as the moderation API shows it (and `report.created` carries it)."""
    return report_json(r, with_snapshot=with_snapshot)


def report_page(page: ReportPage) -> Json:
    return {
        "reports": [report(r) for r in page.reports],
        "hasMore": page.has_more,
        "next": page.reports[-1].id if page.has_more and page.reports else None,
        "countsByReason": {reason: page.counts_by_reason.get(reason, 0) for reason in REASONS},
    }


def suspension(s: Suspension) -> Json:
    return suspension_json(s)


def retry_after(exc: AppError) -> str | None:
    """The `Retry-After` header of an HTTP refusal: whole seconds (at least 1), 429 and 503."""
    if isinstance(exc, RateLimited | Unavailable):
        return str(max(1, math.ceil(exc.retry_after)))
    return None


def media(item: Media, url_of: UrlOf) -> Json:
    url = url_of(item.key)
    body: Json = {
        "id": item.id,
        # The original system calls every file's URL `imageUrl`, PDFs included; `url` says
        # it plainly.
        "imageUrl": url,
        "url": url,
        "size": str(item.size),
        "mimeType": item.mime_type,
    }
    if item.thumbnail_key is not None:
        body["thumbnailUrl"] = url_of(item.thumbnail_key)
    if item.width is not None:
        body["width"] = item.width
        body["height"] = item.height
    return body


def message(m: Message, sync_cursor: str | None, url_of: UrlOf) -> Json:
    files = [media(item, url_of) for item in m.media]
    return {
        "id": m.id,
        "chatId": m.chat_id,
        "seq": m.seq,
        "senderId": m.sender.id,
        "senderType": m.sender.role.value,
        "text": m.text,
        "timestamp": iso(m.created_at),
        "read": m.read,
        "readAt": iso(m.read_at),
        "recipientOnline": m.recipient_online,
        "deliveredAt": iso(m.delivered_at),
        "clientMessageId": m.client_message_id,
        "deletedAt": iso(m.deleted_at),
        "messageMedias": files,
        # The original system named the media list three ways in different examples
        # (docs/protocol.md, Message); clients may read any of them.
        "messageMedia": files,
        "messageImages": files,
        "syncCursor": sync_cursor,
        "editedAt": iso(m.edited_at),
        "reactions": reactions(m.reactions),
        "replyTo": None if m.reply_to is None else reply_preview(m.reply_to),
        "masked": m.masked,
    }


def reactions(items: tuple[Reaction, ...]) -> list[Json]:
    return [
        {
            "emoji": r.emoji,
            "userId": r.user.id,
            "userType": r.user.role.value,
            "reactedAt": iso(r.reacted_at),
        }
        for r in items
    ]


def reply_preview(p: ReplyPreview) -> Json:
    return {
        "id": p.id,
        "senderId": p.sender.id,
        "senderType": p.sender.role.value,
        "text": p.text,
        "hasMedia": p.has_media,
        "deleted": p.deleted,
    }


def version(v: MessageVersion) -> Json:
    """An earlier text of a message, as the admin export lists it (never to clients)."""
    return {
        "version": v.version,
        "text": v.text,
        "writtenAt": iso(v.written_at),
        "replacedAt": iso(v.replaced_at),
    }


def moderation_rule(r: RuleRow) -> Json:
    """A moderation rule, as the admin API lists it."""
    return {
        "id": r.id,
        "kind": r.kind,
        "pattern": r.pattern,
        "action": r.action,
        "note": r.note,
        "createdAt": iso(r.created_at),
        "keyId": r.key_id,
    }


def reactions_body(chat_id: str, message_id: str, items: tuple[Reaction, ...]) -> Json:
    """`messageReactions`, and the ack of addReaction and removeReaction."""
    data = {"chatId": chat_id, "messageId": message_id, "reactions": reactions(items)}
    return ok("Reactions updated", data)


def settings_body(chat_id: str, settings: ChatSettings) -> Json:
    """`chatSettings`, and the ack of updateChatSettings."""
    data = {"chatId": chat_id, "muted": settings.muted, "archived": settings.archived}
    return ok("Chat settings updated", data)


def chat(view: ChatView, cursor_of: CursorOf, url_of: UrlOf, *, blocked: bool) -> Json:
    """A chat as its viewer sees it; `blocked`: the viewer blocks the other party."""
    c = view.chat
    d = c.details
    return {
        "id": c.id,
        "productId": c.key.product_id,
        "vendorId": c.key.vendor_id,
        "customerId": c.key.customer_id,
        "productImageUrl": d.product_image_url,
        "productPrice": d.product_price,
        "productName": d.product_name,
        "storeLogoUrl": d.store_logo_url,
        "customerProfilePic": d.customer_profile_pic,
        "customerName": d.customer_name,
        "storeName": d.store_name,
        "lastMessageAt": iso(c.last_message_at),
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "messages": [message(m, cursor_of(m), url_of) for m in view.messages],
        "unreadCount": view.unread_count,
        "hasMore": view.has_more,
        "muted": view.settings.muted,
        "archived": view.settings.archived,
        "blocked": blocked,
    }


def change(
    entry: FeedEntry, cursor_of: CursorOf, url_of: UrlOf, blocked: Callable[[Chat], bool]
) -> Json | None:
    """One entry of `syncMessages` changes; None for a message deleted since (its
    `deleted` change follows). `blocked`: whether the viewer blocks a chat's other party."""
    base: Json = {"type": entry.kind, "chatId": entry.chat_id}
    if entry.kind == "message":
        m = entry.message
        if m is None or m.deleted_at is not None:
            return None
        return base | {"message": message(m, cursor_of(m), url_of)}
    if entry.kind == "chat":
        if entry.chat is None:
            return None
        shown = chat(ChatView(entry.chat), cursor_of, url_of, blocked=blocked(entry.chat))
        return base | {"chat": shown}
    if entry.kind == "read":
        actor = entry.actor
        return base | {
            "messageIds": entry.message_ids,
            "readAt": iso(entry.at),
            "readerId": actor.id if actor else None,
            "readerType": actor.role.value if actor else None,
        }
    if entry.kind == "delivered":
        return base | {"messageIds": entry.message_ids, "deliveredAt": iso(entry.at)}
    if entry.kind == "edited":
        m = entry.message
        if m is None or m.deleted_at is not None:  # its `deleted` change follows
            return None
        return base | {"message": message(m, cursor_of(m), url_of)}
    if entry.kind == "reactions":
        return base | {"messageId": entry.message_id, "reactions": reactions(entry.reactions)}
    if entry.kind == "settings":
        s = entry.settings or ChatSettings()
        return base | {"muted": s.muted, "archived": s.archived}
    return base | {"messageId": entry.message_id, "deletedAt": iso(entry.at)}


def block_body(blocked: User, block: Block | None) -> Json:
    """The ack of blockUser (`block`: the block in force) and of unblockUser (None)."""
    data = {
        "userId": blocked.id,
        "userType": blocked.role.value,
        "blocked": block is not None,
        "blockedAt": None if block is None else iso(block.blocked_at),
    }
    return ok("User has been blocked" if block else "User has been unblocked", data)


def blocked_users(blocks: Sequence[Block]) -> Json:
    """`blockedUsers`: the blocks the user has in force, oldest first."""
    data = [
        {"userId": b.blocked.id, "userType": b.blocked.role.value, "blockedAt": iso(b.blocked_at)}
        for b in blocks
    ]
    # Always the whole list: `hasMore` as on the other list events, for clients reading
    # them alike.
    return ok("Blocked users have been sent successfully", data) | {"hasMore": False}


def delivered(e: MessagesDelivered) -> Json:
    data = {"chatId": e.chat_id, "messageIds": list(e.message_ids), "deliveredAt": iso(e.at)}
    return ok("Messages delivered", data)


def read(e: MessagesRead) -> Json:
    data = {
        "chatId": e.chat_id,
        "readerId": e.reader.id,
        "readerType": e.reader.role.value,
        "readAt": iso(e.at),
        "messageIds": list(e.message_ids),
        "count": max(e.count, len(e.message_ids)),
        # Older messages were read too; only the newest are listed.
        "hasMore": e.count > len(e.message_ids),
    }
    return ok("Messages marked as read", data)


def deleted(e: MessageDeleted) -> Json:
    data = {"chatId": e.chat.id, "messageId": e.message_id, "deletedAt": iso(e.at)}
    return ok("Message has been deleted successfully", data)


def typing(e: Typing) -> Json:
    data = {
        "chatId": e.chat_id,
        "productId": e.product_id,
        "senderId": e.sender.id,
        "senderType": e.sender.role.value,
    }
    return ok("User has stopped typing" if e.stopped else "User is typing", data)


def online(user: User) -> Json:
    return ok("User is online", {"userId": user.id, "userType": user.role.value})


def offline(user: User, last_seen: int | None) -> Json:
    data = {"userId": user.id, "userType": user.role.value, "lastSeen": iso(last_seen)}
    return ok("User is offline", data)


def presence(status: PresenceStatus) -> Json:
    data = {
        "userId": status.user.id,
        "userType": status.user.role.value,
        "status": "online" if status.online else "offline",
        "lastSeen": iso(status.last_seen),
    }
    return ok("Presence has been retrieved", data)
