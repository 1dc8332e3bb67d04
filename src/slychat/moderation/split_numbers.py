"""Numbers split over several messages: "06 12" then "34 56" then "78", sent by one user
one after the other within a minute, are one phone number, and every piece is masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slychat.moderation.detector import ContactDetector
from slychat.moderation.spans import Kind

WINDOW_SECONDS = 60.0
# How many earlier messages are read at most: a number in more pieces than this is rare,
# and the cost of each new message stays bounded.
MAX_FRAGMENTS = 10
_JOIN = " "


@dataclass(frozen=True)
class Fragment:
    """One message as the sender wrote it (the original text, not the masked one), and
    when it was sent, in seconds on any clock shared by the fragments."""

    text: str
    sent_at: float


@dataclass(frozen=True)
class SplitNumber:
    """The pieces of numbers that span messages: spans of the new message's text, and for
    each earlier message involved (by its index in the `earlier` given) spans of its text."""

    new: tuple[tuple[int, int], ...]
    earlier: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]


def find_split_numbers(
    detector: ContactDetector,
    new: Fragment,
    earlier: Sequence[Fragment],
    *,
    window: float = WINDOW_SECONDS,
) -> SplitNumber | None:
    """Which pieces of `new` and of `earlier` (the same sender's messages in the chat, with
    nobody else's in between, oldest first) form phone numbers together, or None.

    Only messages sent within `window` seconds before `new` count. A number wholly inside
    one message is not reported here: `detector.mask` finds it on its own.
    """
    recent: list[int] = []
    for index in range(len(earlier) - 1, -1, -1):
        if len(recent) == MAX_FRAGMENTS or not 0 <= new.sent_at - earlier[index].sent_at <= window:
            break
        recent.append(index)
    if not recent or not detector.may_join_numbers(earlier[recent[0]].text, new.text):
        return None  # (recent[0]: the last earlier message) no number can span the two
    recent.reverse()
    texts = [earlier[i].text for i in recent] + [new.text]
    starts = []
    at = 0
    for text in texts:
        starts.append(at)
        at += len(text) + len(_JOIN)
    joined = _JOIN.join(texts)
    pieces: dict[int, list[tuple[int, int]]] = {}
    for contact in detector.find(joined):
        if contact.kind is not Kind.PHONE:
            continue
        touched = [
            (k, max(contact.start, s) - s, min(contact.end, s + len(t)) - s)
            for k, (s, t) in enumerate(zip(starts, texts, strict=True))
            if contact.start < s + len(t) and contact.end > s
        ]
        if len(touched) < 2 or touched[-1][0] != len(texts) - 1:
            continue  # inside one message, or only among earlier ones (found back then)
        for k, start, end in touched:
            pieces.setdefault(k, []).append((start, end))
    if not pieces:
        return None
    last = len(texts) - 1
    return SplitNumber(
        new=tuple(pieces.get(last, ())),
        earlier=tuple(
            (recent[k], tuple(spans)) for k, spans in sorted(pieces.items()) if k != last
        ),
    )
