"""Webhook bodies: what each event tells the platform, built once and stored in the outbox.

A body is written to `webhook_outbox.payload` in the transaction of the change it reports
and sent byte for byte on every attempt, so its signature covers exactly what was stored.
Bodies name chats and messages but never carry a message's text: that is chat content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from slychat.domain.identity import User
from slychat.domain.ids import iso, new_id
from slychat.domain.models import Chat

CHAT_CREATED = "chat.created"
MESSAGE_UNREAD = "message.unread"
REPORT_CREATED = "report.created"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One webhook to send: `id` is the idempotency id receivers see (`Webhook-Id`)."""

    id: str
    event: str
    payload: str
    created_at: int


@dataclass(frozen=True, slots=True)
class UnreadChat:
    """One chat of a `message.unread` notice: how many messages in it the recipient has
    not read, and the newest of those the notice reports."""

    chat: Chat
    unread_count: int
    last_message_id: str
    last_message_at: int


def chat_created(chat: Chat, now: int) -> OutboxEntry:
    return _entry(CHAT_CREATED, now, {"chat": _chat(chat)})


def message_unread(recipient: User, chats: Sequence[UnreadChat], now: int) -> OutboxEntry:
    return _entry(
        MESSAGE_UNREAD,
        now,
        {
            "recipient": {"id": recipient.id, "type": recipient.role.value},
            "unreadCount": sum(item.unread_count for item in chats),
            "chats": [
                _chat(item.chat)
                | {
                    "unreadCount": item.unread_count,
                    "lastMessageId": item.last_message_id,
                    "lastMessageAt": iso(item.last_message_at),
                }
                for item in chats
            ],
        },
    )


def report_created(report: dict[str, Any], now: int) -> OutboxEntry:
    """`report.created`: the report object of the moderation API, without its snapshot
    (which holds chat content)."""
    return _entry(REPORT_CREATED, now, report)


def _entry(event: str, now: int, data: dict[str, Any]) -> OutboxEntry:
    event_id = new_id()
    body = {"id": event_id, "type": event, "createdAt": iso(now), "data": data}
    return OutboxEntry(event_id, event, orjson.dumps(body).decode(), now)


def _chat(chat: Chat) -> dict[str, Any]:
    d = chat.details
    return {
        "id": chat.id,
        "productId": chat.key.product_id,
        "vendorId": chat.key.vendor_id,
        "customerId": chat.key.customer_id,
        "productName": d.product_name,
        "productPrice": d.product_price,
        "productImageUrl": d.product_image_url,
        "storeName": d.store_name,
        "storeLogoUrl": d.store_logo_url,
        "customerName": d.customer_name,
        "customerProfilePic": d.customer_profile_pic,
        "createdAt": iso(chat.created_at),
    }
