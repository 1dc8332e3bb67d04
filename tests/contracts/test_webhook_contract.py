"""The webhooks in the OpenAPI document: the bodies domain/webhook_events.py builds, and
their headers, validate against the documented schemas; a body with a field the document does
not name is refused. tests/e2e/test_webhooks.py checks real calls with `check_documented`."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from slychat.contracts.documents import openapi_document
from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, ChatDetails, ChatKey
from slychat.domain.reports import Decision, Report, report_json
from slychat.domain.webhook_events import (
    UnreadChat,
    chat_created,
    message_unread,
    report_created,
)
from slychat.services.webhooks import sign
from tests.support import schema_validator

NOW = 1_764_000_000_123
FULL = ChatDetails(
    product_image_url="https://example.com/p.jpg",
    product_price="299.99",
    product_name="Wireless Headphones",
    store_logo_url="https://example.com/s.png",
    customer_profile_pic="https://example.com/c.jpg",
    customer_name="John Doe",
    store_name="Tech Haven",
)


@cache
def _document() -> dict[str, Any]:
    return openapi_document()


def check_documented(headers: dict[str, str], body: bytes) -> str:
    """Validate one webhook call (its headers and raw body) against the document's
    `webhooks` entry for its type; the type."""
    document = _document()
    payload = json.loads(body)
    operation = document["webhooks"][payload["type"]]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    schema_validator(document, schema).validate(payload)
    for param in operation["parameters"]:
        assert param["in"] == "header"
        assert param["required"]
        assert param["name"] in headers, f"no {param['name']} header"
        schema_validator(document, param["schema"]).validate(headers[param["name"]])
    return str(payload["type"])


def _chat(chat_id: str, details: ChatDetails) -> Chat:
    return Chat(chat_id, ChatKey("p/42", 7, 1001), details, 3, NOW, NOW - 5000, NOW)


def _report() -> Report:
    """A user's report of a message, decided once (a suspension, later lifted)."""
    return Report(
        "6743a1f2c0ffee0000000031",
        "resolved",
        "scam",
        "asked for a bank transfer",
        False,
        User(Role.CUSTOMER, 1001),
        "message",
        User(Role.VENDOR, 7),
        "6743a1f1c0ffee000000002c",
        "6743a1f0c0ffee0000000029",
        NOW,
        (
            Decision("suspend_user", None, NOW + 86_400_000, "k" * 24, "support", NOW),
            Decision("lift", "appealed", None, "k" * 24, "support", NOW + 5),
        ),
        3,
    )


def _headers(entry_id: str, body: bytes) -> dict[str, str]:
    timestamp = NOW // 1000
    return {
        "Webhook-Id": entry_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": sign(b"k" * 32, timestamp, body),
    }


@pytest.mark.parametrize("details", [FULL, ChatDetails()], ids=["full", "bare"])
def test_built_bodies_match_the_documented_webhooks(details: ChatDetails) -> None:
    chats = [
        UnreadChat(_chat("6743a1f0c0ffee0000000029", details), 2, "6743a1f1c0ffee000000002c", NOW),
        UnreadChat(_chat("6743a1f0c0ffee0000000030", details), 0, "6743a1f1c0ffee000000002d", NOW),
    ]
    entries = [
        chat_created(_chat("6743a1f0c0ffee0000000029", details), NOW),
        message_unread(User(Role.VENDOR, 7), chats, NOW),
        report_created(report_json(_report()), NOW),
    ]
    seen = set()
    for entry in entries:
        body = entry.payload.encode()
        seen.add(check_documented(_headers(entry.id, body), body))
    assert (
        seen
        == set(_document()["webhooks"])
        == {
            "chat.created",
            "message.unread",
            "report.created",
        }
    )


def test_a_wrong_webhook_is_refused() -> None:
    entry = chat_created(_chat("6743a1f0c0ffee0000000029", FULL), NOW)
    good = json.loads(entry.payload)
    headers = _headers(entry.id, entry.payload.encode())

    def check(payload: dict[str, Any], sent: dict[str, str] = headers) -> None:
        check_documented(sent, json.dumps(payload).encode())

    check(good)
    chat = good["data"]["chat"]
    with pytest.raises(jsonschema.ValidationError):  # a field the document does not name
        check(good | {"data": {"chat": chat | {"text": "hello"}}})
    with pytest.raises(jsonschema.ValidationError):  # a field it requires
        check(good | {"data": {"chat": {k: v for k, v in chat.items() if k != "vendorId"}}})
    with pytest.raises(jsonschema.ValidationError):
        check(good, headers | {"Webhook-Signature": "sha256=00"})
    with pytest.raises(AssertionError):
        check(good, {k: v for k, v in headers.items() if k != "Webhook-Timestamp"})
