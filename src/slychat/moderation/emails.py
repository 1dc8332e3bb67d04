"""E-mail addresses, plain and written around filters: "name at gmail dot com",
"name[at]mail(dot)co(dot)uk", "name @ gmail . com", "name at gmail"."""

from __future__ import annotations

import re

from slychat.moderation.domains import LABEL, PROSE, SPELLED_DOT, registrable
from slychat.moderation.keywords import word_set

# Mail services people name without their domain: "john at gmail". Words that are also
# ordinary words ("live", "mail", "free") are left out.
PROVIDERS = word_set(
    "gmail googlemail yahoo ymail hotmail outlook icloud aol protonmail proton gmx yandex"
    " rambler qq naver libero wanadoo laposte rediffmail zoho tutanota fastmail hushmail"
)
AT_WORDS = ("at", "arroba", "arobase", "chiocciola", "собака")


_LEFT, _RIGHT = r"[(\[{<]", r"[)\]}>]"
_AT = (
    rf"(?:\s*@\s*|\s*{_LEFT}\s*(?:@|{'|'.join(AT_WORDS)})\s*{_RIGHT}\s*"
    rf"|\s+(?:{'|'.join(AT_WORDS)})\s+)"
)
_DOT = rf"(?:\.|{SPELLED_DOT})"
_PART = r"[^\W_](?:[\w+\-]{0,62}[^\W_])?"
# Repetitions are bounded so that no text makes the search slower than linear.
_EMAIL = re.compile(
    rf"(?<![\w.+\-@])(?P<local>{_PART}(?:{_DOT}{_PART}){{0,30}})"
    rf"(?P<at>{_AT})(?P<domain>{LABEL}(?:{_DOT}{LABEL}){{0,30}})",
    re.IGNORECASE,
)
_SPLIT_DOTS = re.compile(_DOT, re.IGNORECASE)


def find_emails(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses in normalised `text`."""
    found: list[tuple[int, int]] = []
    position = 0
    while (match := _EMAIL.search(text, position)) is not None:
        end = _address_end(text, match)
        if end is None:
            # An address starting later inside this name would end in the same domain:
            # look again from the domain on ("me at john dot smith at yahoo dot com").
            position = match.start("domain")
            continue
        found.append((match.start(), end))
        position = end
    return found


def _address_end(text: str, match: re.Match[str]) -> int | None:
    """Where the address of `match` ends, or None when its domain is not a mail domain."""
    plain_at = match.group("at").strip() == "@"
    labels = list(_labels(text, match.start("domain"), match.end("domain")))
    if not plain_at and (match.group("local").lower() in PROSE or labels[0][0].lower() in PROSE):
        return None  # "email me at ...", "be at the dot com": prose, not an address
    for taken in range(len(labels), 1, -1):  # "john@gmail.com.Thanks": drop the sentence
        host = ".".join(label for label, _ in labels[:taken])
        if registrable(host) is not None:
            return labels[taken - 1][1]
    first, end = labels[0]
    if first.lower() in PROVIDERS:
        return end
    return None


def _labels(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """The labels of a domain written with dots or dot words, each with where it ends."""
    labels: list[tuple[str, int]] = []
    position = start
    for dot in _SPLIT_DOTS.finditer(text, start, end):
        labels.append((text[position : dot.start()], dot.start()))
        position = dot.end()
    labels.append((text[position:end], end))
    return labels
