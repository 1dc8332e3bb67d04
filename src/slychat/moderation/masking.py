"""Masking: each span replaced by the mask text, overlapping spans once, and never making
a message longer than its limit."""

from __future__ import annotations

from collections.abc import Iterable

from slychat.moderation.spans import merge

DEFAULT_MASK = "[contact hidden]"
# When full masks would push a message past its limit, a span shorter than the mask is
# covered by this character instead, one for each character it hides.
SHORT_MASK_CHAR = "•"


def mask_spans(
    text: str,
    spans: Iterable[tuple[int, int]],
    mask: str = DEFAULT_MASK,
    max_length: int | None = None,
) -> str:
    """`text` with each span (merged where they overlap or touch) replaced by `mask`.

    When that would make the text longer than `max_length`, spans shorter than the mask
    are covered character for character by `SHORT_MASK_CHAR` instead, so the result is
    never longer than the limit or, if the text was already longer, than the text.
    """
    merged = merge((max(0, a), min(len(text), b)) for a, b in spans if b > a)
    if not merged:
        return text
    growth = sum(len(mask) - (b - a) for a, b in merged)
    short = max_length is not None and len(text) + growth > max(max_length, len(text))
    pieces: list[str] = []
    at = 0
    for start, end in merged:
        pieces.append(text[at:start])
        if short and end - start < len(mask):
            pieces.append(SHORT_MASK_CHAR * (end - start))
        else:
            pieces.append(mask)
        at = end
    pieces.append(text[at:])
    return "".join(pieces)
