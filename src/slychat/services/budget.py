"""Size budgets of list replies: a page stops before its reply outgrows the budget, and
says `hasMore`, so no client can make the server build (and every other client wait for)
a reply of tens of megabytes.

Costs are upper bounds of what each item adds to the JSON reply: fixed overheads (field
names, ids, timestamps, the media list under its three names, a sync cursor) plus the
variable text as JSON writes it (quotes, escapes, UTF-8). `tests/services/test_budget.py`
checks them against the real wire shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import orjson

from slychat.domain.models import Chat, FeedEntry, Message

T = TypeVar("T")

MESSAGE_BASE = 720
MEDIA_ITEM = 3 * 420  # each media item appears in three lists
REACTION_ITEM = 200  # {emoji, userId, userType, reactedAt}, the longest emoji included
REPLY_BASE = 160  # the replyTo preview but its text
CHAT_BASE = 640
CHANGE_BASE = 160
ID_IN_LIST = 27


def text_cost(text: str | None) -> int:
    return 0 if text is None else len(orjson.dumps(text))


def message_cost(m: Message) -> int:
    client_id = len(m.client_message_id or "")
    reply = 0 if m.reply_to is None else REPLY_BASE + text_cost(m.reply_to.text)
    return (
        MESSAGE_BASE
        + text_cost(m.text)
        + 2 * client_id
        + len(m.media) * MEDIA_ITEM
        + len(m.reactions) * REACTION_ITEM
        + reply
    )


def chat_cost(chat: Chat) -> int:
    d = chat.details
    fields = (
        d.product_image_url,
        d.product_price,
        d.product_name,
        d.store_logo_url,
        d.customer_profile_pic,
        d.customer_name,
        d.store_name,
        chat.key.product_id,
    )
    return CHAT_BASE + sum(text_cost(value) for value in fields)


def change_cost(entry: FeedEntry) -> int:
    if entry.message is not None:
        return CHANGE_BASE + message_cost(entry.message)
    if entry.chat is not None:
        return CHANGE_BASE + chat_cost(entry.chat)
    if entry.reactions:
        return CHANGE_BASE + REACTION_ITEM * len(entry.reactions)
    return CHANGE_BASE + ID_IN_LIST * len(entry.message_ids)


def prefix(items: Sequence[T], cost: Callable[[T], int], budget: int) -> list[T]:
    """The longest prefix of `items` that fits `budget`; at least the first item, so a
    single oversize item still moves a client forward rather than blocking it."""
    kept: list[T] = []
    left = budget
    for item in items:
        left -= cost(item)
        if left < 0 and kept:
            break
        kept.append(item)
    return kept


def latest(items: Sequence[T], cost: Callable[[T], int], budget: int) -> list[T]:
    """The longest suffix of `items` (oldest first) that fits `budget`: the newest ones."""
    return list(reversed(prefix(list(reversed(items)), cost, budget)))


def total(items: Iterable[T], cost: Callable[[T], int]) -> int:
    return sum(cost(item) for item in items)
