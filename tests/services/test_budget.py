"""The size costs of list items are upper bounds of their real wire size, however hostile
the text, so a page that fits its budget by cost fits it on the wire."""

from __future__ import annotations

import orjson
import pytest

from slychat.domain.identity import Role, User
from slychat.domain.models import Chat, ChatDetails, ChatKey, FeedEntry, Media, Message
from slychat.protocol import outbound as wire
from slychat.services import budget

HOSTILE_TEXTS = [
    "",
    "plain ascii " * 400,
    "\x00\x01\x1f" * 1600,  # control characters: six bytes each as JSON escapes
    '"\\' * 2500,  # quotes and backslashes: two bytes each
    "ü€😀" * 1250,  # two, three and four UTF-8 bytes
    "\u202e\u2066" * 2500,  # bidi controls
]
CURSOR = "v1." + "x" * 80  # longer than any cursor the server signs
URL = "https://media.example.com/" + "k" * 40


def _message(text: str, media: int) -> Message:
    return Message(
        id="a" * 24,
        chat_id="b" * 24,
        seq=2**62,
        sender=User(Role.CUSTOMER, 2**62),
        text=text,
        created_at=2**41,
        recipient_online=True,
        client_message_id="c" * 128,
        read=True,
        read_at=2**41,
        delivered_at=2**41,
        media=tuple(
            Media("d" * 24, "k" * 36, "application/pdf", 2**40, "t" * 36, 10**5, 10**5)
            for _ in range(media)
        ),
    )


def _chat(text: str) -> Chat:
    details = ChatDetails(*([text[:2048]] * 7))
    return Chat("e" * 24, ChatKey("p" * 255, 2**62, 2**62), details, 2**62, 2**41, 2**41, 2**41)


def _size(body: object) -> int:
    return len(orjson.dumps(body))


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
@pytest.mark.parametrize("media", [0, 3])
def test_a_message_costs_at_least_its_wire_size(text: str, media: int) -> None:
    m = _message(text, media)
    assert _size(wire.message(m, CURSOR, lambda _k: URL)) <= budget.message_cost(m)


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_a_chat_costs_at_least_its_wire_size(text: str) -> None:
    from slychat.domain.models import ChatView

    chat = _chat(text)
    shape = wire.chat(
        ChatView(chat, [], 2**31, True), lambda _m: CURSOR, lambda _k: URL, blocked=True
    )
    assert _size(shape) <= budget.chat_cost(chat)


def test_a_change_costs_at_least_its_wire_size() -> None:
    read = FeedEntry(
        pos=1, kind="read", chat_id="b" * 24, at=2**41, message_ids=["a" * 24] * 1000,
        actor=User(Role.VENDOR, 2**62),
    )  # fmt: skip
    message = FeedEntry(
        pos=1, kind="message", chat_id="b" * 24, at=2**41, message=_message("ü" * 5000, 3)
    )
    chat = FeedEntry(pos=1, kind="chat", chat_id="b" * 24, at=2**41, chat=_chat("€" * 2048))
    for entry in (read, message, chat):
        shape = wire.change(entry, lambda _m: CURSOR, lambda _k: URL, lambda _c: True)
        assert _size(shape) <= budget.change_cost(entry)


def test_pages_stop_before_the_budget_but_always_move_forward() -> None:
    sizes = [40, 40, 40, 40]
    assert budget.prefix(sizes, lambda n: n, 100) == [40, 40]
    assert budget.latest([10, 20, 30, 40], lambda n: n, 75) == [30, 40]
    # one item larger than the whole budget still goes, alone
    assert budget.prefix([500, 1], lambda n: n, 100) == [500]
    assert budget.latest([1, 500], lambda n: n, 100) == [500]
