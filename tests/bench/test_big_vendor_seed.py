"""The big-vendor benchmark's seed: the two measured vendors differ only in how many chats
they have (same offline messages, same newest chats), whatever the rest of the data."""

from __future__ import annotations

from collections import Counter

from bench.big_vendor import AWAITING, BIG, PER_CHAT, SMALL, Sizes, _rows
from bench.seed import CHAT_COLUMNS, MESSAGE_COLUMNS


def test_each_measured_vendor_has_its_chats_and_the_same_offline_messages() -> None:
    size = Sizes(chats=400, messages=6_000, big_chats=150, small_chats=60)
    chat_rows, message_rows = _rows(size)
    chats = [dict(zip(CHAT_COLUMNS, row, strict=True)) for row in chat_rows]
    messages = [dict(zip(MESSAGE_COLUMNS, row, strict=True)) for row in message_rows]
    assert len(chats) == size.chats
    assert abs(len(messages) - size.messages) < size.chats
    per_vendor = Counter(c["vendor_id"] for c in chats)
    assert (per_vendor[BIG], per_vendor[SMALL]) == (150, 60)
    vendor_of = {c["id"]: c["vendor_id"] for c in chats}
    for vendor in (BIG, SMALL):
        theirs = [m for m in messages if vendor_of[m["chat_id"]] == vendor]
        assert len(theirs) == PER_CHAT * per_vendor[vendor]
        waiting = [m for m in theirs if m["delivered_at"] is None]
        assert len(waiting) == AWAITING
        assert all(m["sender_type"] == "CUSTOMER" and not m["read"] for m in waiting)
        # In the vendor's newest chats: its first page.
        newest = sorted(
            (c for c in chats if c["vendor_id"] == vendor), key=lambda c: c["last_message_at"]
        )[-AWAITING:]
        assert {m["chat_id"] for m in waiting} == {c["id"] for c in newest}
        # Feed positions as sends hand them out: 1, 2, 3, ... per user.
        assert [m["vendor_pos"] for m in theirs] == list(range(1, len(theirs) + 1))
    assert len({m["id"] for m in messages}) == len(messages)
