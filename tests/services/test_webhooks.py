"""Webhook pieces without a server: backoff, the signature, the bodies, the settings."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from pydantic import ValidationError

from slychat.config.settings import Settings
from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, ChatDetails, ChatKey
from slychat.domain.webhook_events import UnreadChat, chat_created, message_unread
from slychat.services.webhooks import BACKOFF_CAP, backoff, sign
from tests.webhook_receiver import documented_verifier

KEY = b"k" * 32


def test_backoff_doubles_from_five_seconds_up_to_an_hour() -> None:
    most = [backoff(n, rng=lambda: 1.0) for n in range(1, 14)]
    assert most[:5] == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert most[-1] == BACKOFF_CAP == 3600.0
    assert max(most) == BACKOFF_CAP


def test_backoff_has_full_jitter() -> None:
    assert backoff(3, rng=lambda: 0.0) == 0.0
    assert backoff(3, rng=lambda: 0.5) == 10.0
    waits = {backoff(4) for _ in range(200)}
    assert all(0 <= w <= 40 for w in waits)
    assert len(waits) > 100  # random, not a few fixed steps


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"x"}'
    expected = hmac.new(KEY, b'1700000000.{"id":"x"}', hashlib.sha256).hexdigest()
    assert sign(KEY, 1700000000, body) == f"v1={expected}"


def test_the_documented_verifier_accepts_what_the_server_signs() -> None:
    verify = documented_verifier()
    body = b'{"id":"x","type":"chat.created"}'
    now = int(time.time())
    headers = {"Webhook-Timestamp": str(now), "Webhook-Signature": sign(KEY, now, body)}
    assert verify(KEY, headers, body)
    assert not verify(KEY, headers, body + b" ")  # another body
    assert not verify(b"x" * 32, headers, body)  # another key
    assert not verify(KEY, {"Webhook-Signature": headers["Webhook-Signature"]}, body)
    old = now - 301  # a replay: correctly signed, too long ago
    assert not verify(
        KEY, {"Webhook-Timestamp": str(old), "Webhook-Signature": sign(KEY, old, body)}, body
    )
    future = now + 301
    assert not verify(
        KEY, {"Webhook-Timestamp": str(future), "Webhook-Signature": sign(KEY, future, body)}, body
    )


@pytest.mark.parametrize(
    "hostile",
    [
        {"Webhook-Signature": "v1=\u00e9" * 32},  # non-ASCII: compare_digest raised TypeError
        {"Webhook-Signature": "\ud800"},
        {"Webhook-Signature": ""},
        {"Webhook-Timestamp": "9" * 400},  # int() reads it; time.time() - it overflowed
        {"Webhook-Timestamp": "\u0661\u0667\u0660\u0660"},  # digits int() reads, not ASCII
        {"Webhook-Timestamp": " 1700000000"},
        {"Webhook-Timestamp": "-1"},
        {"Webhook-Timestamp": ""},
    ],
)
def test_the_documented_verifier_refuses_any_hostile_header(hostile: dict[str, str]) -> None:
    """The receiver's code runs on whatever a stranger POSTs: False, never an exception."""
    verify = documented_verifier()
    body = b'{"id":"x"}'
    now = int(time.time())
    headers = {"Webhook-Timestamp": str(now), "Webhook-Signature": sign(KEY, now, body)}
    assert not verify(KEY, headers | hostile, body)


CHAT = Chat(
    "c" * 24,
    ChatKey("p-1", 7, 1001),
    ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann"),
    last_seq=3,
    last_message_at=1_700_000_001_000,
    created_at=1_700_000_000_000,
    updated_at=1_700_000_001_000,
)


def test_chat_created_body() -> None:
    entry = chat_created(CHAT, 1_700_000_000_000)
    body = json.loads(entry.payload)
    assert body["id"] == entry.id
    assert body["type"] == entry.event == "chat.created"
    assert body["createdAt"] == "2023-11-14T22:13:20.000Z"
    chat = body["data"]["chat"]
    assert chat["id"] == CHAT.id
    assert (chat["productId"], chat["vendorId"], chat["customerId"]) == ("p-1", 7, 1001)
    assert chat["productName"] == "Lamp"
    assert chat["storeName"] == "Lights"


def test_message_unread_body_lists_chats_and_counts() -> None:
    items = [UnreadChat(CHAT, 2, "m" * 24, 1_700_000_001_000)]
    entry = message_unread(User(Role.VENDOR, 7), items, 1_700_000_400_000)
    body = json.loads(entry.payload)
    assert body["type"] == "message.unread"
    assert body["data"]["recipient"] == {"id": 7, "type": "VENDOR"}
    assert body["data"]["unreadCount"] == 2
    [chat] = body["data"]["chats"]
    assert chat["unreadCount"] == 2
    assert chat["lastMessageId"] == "m" * 24
    assert chat["lastMessageAt"] == "2023-11-14T22:13:21.000Z"
    assert "text" not in json.dumps(body)


def test_webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLYCHAT_WEBHOOK_URL", "https://platform.example/hooks")
    monkeypatch.setenv("SLYCHAT_WEBHOOK_SECRET", "s" * 32)
    monkeypatch.setenv("SLYCHAT_UNREAD_DELAY", "2m")
    monkeypatch.setenv("SLYCHAT_WEBHOOK_RETRY_FOR", "12h")
    monkeypatch.setenv("SLYCHAT_WEBHOOK_POLL", "0.5s")
    settings = Settings()
    assert settings.unread_delay == 120
    assert settings.webhook_retry_for == 12 * 3600
    assert settings.webhook_timeout == 10
    assert settings.webhook_poll == 0.5


def test_webhooks_are_off_by_default() -> None:
    settings = Settings()
    assert settings.webhook_url is None
    assert settings.unread_delay == 300


@pytest.mark.parametrize(
    ("secret", "url", "complaint"),
    [
        (None, "https://platform.example/hooks", "SLYCHAT_WEBHOOK_SECRET"),
        ("short", "https://platform.example/hooks", "SLYCHAT_WEBHOOK_SECRET"),
        ("s" * 32, "ftp://platform.example/hooks", "SLYCHAT_WEBHOOK_URL"),
    ],
)
def test_webhook_settings_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, url: str, complaint: str
) -> None:
    monkeypatch.setenv("SLYCHAT_WEBHOOK_URL", url)
    if secret is not None:
        monkeypatch.setenv("SLYCHAT_WEBHOOK_SECRET", secret)
    with pytest.raises(ValidationError, match=complaint):
        Settings()
