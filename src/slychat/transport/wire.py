"""Outbound shapes, exactly as the user's document shows them plus PROTOCOL.md's fields."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from slychat.errors import AppError, RateLimited
from slychat.ids import iso
from slychat.models import ChatView, FeedEntry, Media, Message

Json = dict[str, Any]


def ok(message: Any, data: Any) -> Json:
    return {"statusCode": 200, "error": False, "message": message, "data": data}


def error(exc: AppError) -> Json:
    body: Json = {"error": True, "message": exc.message, "statusCode": exc.status_code}
    if isinstance(exc, RateLimited):
        body["retryAfter"] = round(exc.retry_after, 3)
    return body


def retry_after(exc: AppError) -> str | None:
    """The `Retry-After` header of an HTTP refusal: whole seconds (at least 1), 429 only."""
    if isinstance(exc, RateLimited):
        return str(max(1, math.ceil(exc.retry_after)))
    return None


CursorOf = Callable[[Message], str | None]
UrlOf = Callable[[str], str]  # a media store key -> the URL clients fetch it at


def media(item: Media, url_of: UrlOf) -> Json:
    url = url_of(item.key)
    body: Json = {
        "id": item.id,
        # The document calls every file's URL `imageUrl`, PDFs included; `url` says it plainly.
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
        # The user's document names the media list three ways in different examples;
        # clients may read any of them.
        "messageMedia": files,
        "messageImages": files,
        "syncCursor": sync_cursor,
    }


def chat(view: ChatView, cursor_of: CursorOf, url_of: UrlOf) -> Json:
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
    }


def change(entry: FeedEntry, cursor_of: CursorOf, url_of: UrlOf) -> Json | None:
    """One entry of `syncMessages` changes; None for a message deleted since (its
    `deleted` change follows)."""
    base: Json = {"type": entry.kind, "chatId": entry.chat_id}
    if entry.kind == "message":
        m = entry.message
        if m is None or m.deleted_at is not None:
            return None
        return base | {"message": message(m, cursor_of(m), url_of)}
    if entry.kind == "chat":
        if entry.chat is None:
            return None
        return base | {"chat": chat(ChatView(entry.chat), cursor_of, url_of)}
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
    return base | {"messageId": entry.message_id, "deletedAt": iso(entry.at)}
