"""What a detector finds: a kind of contact detail and where it is in the text."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """The kinds of contact detail, as metrics and reports name them."""

    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    MESSENGER = "messenger"


@dataclass(frozen=True, order=True)
class Contact:
    """A contact detail at `text[start:end]` of the text it was found in."""

    start: int
    end: int
    kind: Kind


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping and touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def drop_overlapped(found: Iterable[Contact]) -> list[Contact]:
    """Contacts sorted by position; one that overlaps an earlier-starting, longer one goes,
    so that an e-mail is not also reported as the domain inside it."""
    kept: list[Contact] = []
    for contact in sorted(found, key=lambda c: (c.start, -(c.end - c.start))):
        if kept and contact.start < kept[-1].end:
            if contact.end > kept[-1].end:
                last = kept[-1]
                kept[-1] = Contact(last.start, contact.end, last.kind)
            continue
        kept.append(contact)
    return kept
