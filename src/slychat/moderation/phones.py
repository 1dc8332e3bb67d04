"""Phone numbers in normalised text: runs of digits with the separators people put in them,
less what is something else (dates, prices, order numbers...), checked against the
country codes and number lengths of Google's libphonenumber (the `phonenumbers` package).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from slychat.moderation import keywords
from slychat.moderation.keywords import Label
from slychat.moderation.not_contacts import blank, is_amount, is_postal_code

# Digits and the separators between them (spaces, dots, dashes, slashes, brackets), with a
# leading + or 00; never followed by a letter (a size, a product code) and never glued to a
# word before it unless that word is "call", "tel" and the like ("SKU12345678" is a code).
_CANDIDATE = re.compile(
    r"(?<![\d+#])(?:\+ ?|00(?=[1-9]))?(?:[(\[] ?)?\d(?:[ \t.\-/()\[\]]{0,3}\d)*+"
)
# A letter right after a number makes it a size or a code ("5000mah", "SKU1234567x"), in
# the alphabets written with spaces; in Chinese or Japanese a number runs into the words.
_LETTER = re.compile(r"[a-zα-ωа-яё]")
_GLUED_WORD = re.compile(r"([a-z]+)-?$")
_GROUP = re.compile(r"\d+")
_STRONG_SEPARATOR = re.compile(r"[ \t]*/[ \t]*|[ \t.\-()\[\]]{2,}")
_EDGES = re.compile(r"^[ \t.\-/)\]]*(.*?)[ \t.\-/(\[]*$", re.S)
_WORD = re.compile(r"[^\W_]+|[#〒]")
MAX_DIGITS = 15  # E.164: no phone number is longer
MIN_DIGITS = 7  # shorter ones only when a word says it is a phone: "call 12 34 56"
MIN_LABELLED_DIGITS = 5
_LABEL_REACH = 32  # characters before a number where a word can say what it is
_CONTEXT = 16  # characters around a number where a currency or a unit can be


@dataclass(frozen=True)
class Found:
    """A phone number at `start:end` of the normalised text."""

    start: int
    end: int


def _label(lowered: str, start: int) -> Label | None:
    """What the words just before `start` say the number is ("order no.", "call me on",
    "the ref on the label is"): the nearest label, over filler words and at most one other."""
    before = lowered[max(0, start - _LABEL_REACH) : start].rsplit("\n", 1)[-1]
    if before.rstrip().endswith("#"):
        return Label.CODE
    weak: Label | None = None
    unknown = 0
    for word in reversed(_WORD.findall(before)[-6:]):
        if word in keywords.NUMBER:
            weak = Label.PHONE  # "my number is", unless "order number"
            continue
        label = keywords.label_of(word)
        if label is not None:
            return label
        if word not in keywords.FILLER:
            unknown += 1
            if unknown > 1:
                break
    return weak


def _possible_international(digits: str) -> bool:
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if len(national) < 4:
                return False
            zeros = len(national) - len(national.lstrip("0"))
            number = phonenumbers.PhoneNumber(
                country_code=code,
                national_number=int(national),
                italian_leading_zero=zeros > 0 or None,
                number_of_leading_zeros=zeros or None,
            )
            if phonenumbers.is_possible_number(number):
                return True
            # "+44 (0) 7911 123456": the trunk zero written after the country code.
            return national.startswith("0") and _possible_international(str(code) + national[1:])
    return False


def _parts(candidate: str, offset: int) -> Iterator[tuple[int, int, list[str], list[str]]]:
    """The numbers a candidate may hold, split where it is too long to be one number:
    (start, end, digit groups, separators)."""
    trimmed = _EDGES.match(candidate)
    if trimmed is not None and trimmed.span(1) != (0, len(candidate)):
        offset += trimmed.start(1)
        candidate = trimmed.group(1)
    groups = list(_GROUP.finditer(candidate))
    digits = sum(len(g.group()) for g in groups)
    if digits <= MAX_DIGITS:
        separators = [candidate[a.end() : b.start()] for a, b in itertools.pairwise(groups)]
        yield offset, offset + len(candidate), [g.group() for g in groups], separators
        return
    cut = _STRONG_SEPARATOR.search(candidate)
    if cut is not None:
        yield from _parts(candidate[: cut.start()], offset)
        rest = candidate[cut.end() :]
        yield from _parts(rest, offset + cut.end())
        return
    long_groups = [len(group.group()) for group in groups if len(group.group()) >= MIN_DIGITS]
    if len(groups) >= 2 and long_groups and max(long_groups) <= MAX_DIGITS:
        # Numbers side by side ("5551234567 5557654321"): all of it, since the short
        # groups between the long ones are the ends and starts of numbers too.
        yield offset, offset + len(candidate), ["".join(g.group() for g in groups)], []


def _is_phone(
    text: str, start: int, groups: list[str], separators: list[str], label: Label | None
) -> tuple[bool, int]:
    """Whether digit groups at `start` are a phone number, and how many groups it takes."""
    digits = "".join(groups)
    international = text.startswith("+", start) or (
        text.startswith("00", start) and len(groups[0]) >= 2
    )
    if international:
        plain = digits[2:] if text.startswith("00", start) else digits
        for taken in range(len(groups), 0, -1):  # drop trailing groups that are not part of it
            kept = "".join(groups[:taken])
            kept = kept[2:] if not text.startswith("+", start) else kept
            if len(kept) >= MIN_DIGITS and _possible_international(kept):
                return True, taken
        return len(plain) >= MIN_DIGITS + 1, len(groups)
    if label in (Label.CODE, Label.POSTAL) or is_amount(groups, separators):
        return False, 0
    if label is not Label.PHONE and is_postal_code(groups, separators):
        return False, 0
    if label is Label.PHONE:
        return len(digits) >= MIN_LABELLED_DIGITS, len(groups)
    if len(digits) >= MIN_DIGITS + 1:
        return True, len(groups)
    # Seven digits: a phone when written like one ("555-1234", "0 612 345") or read out
    # digit by digit ("five five five one two three four").
    dictated = all(len(g) <= 2 for g in groups)
    shaped = len(groups) >= 2 and (digits.startswith("0") or len(groups[-1]) == 4 or dictated)
    return len(digits) == MIN_DIGITS and shaped, len(groups)


def _windows(lowered: str) -> list[tuple[int, int]]:
    """The stretches of text around runs of digits that may hold a phone number, with
    room for the words that say what they are ("USD", "kg"): only these are read closely."""
    windows: list[tuple[int, int]] = []
    for run in _CANDIDATE.finditer(lowered):
        if sum(c.isdigit() for c in run.group()) < MIN_LABELLED_DIGITS:
            continue
        start, end = max(0, run.start() - _CONTEXT), min(len(lowered), run.end() + _CONTEXT)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def find_phones(text: str, *, tracking_numbers_allowed: bool = False) -> list[Found]:
    """Phone numbers in normalised `text`."""
    lowered = text.lower()
    found: list[Found] = []
    for window in _windows(lowered):
        found.extend(_find_in(text, lowered, window, tracking_numbers_allowed))
    return found


def _find_in(
    text: str, lowered: str, window: tuple[int, int], tracking_numbers_allowed: bool
) -> list[Found]:
    readable = blank(lowered, *window)
    found: list[Found] = []
    for candidate in _CANDIDATE.finditer(readable, *window):
        if _LETTER.match(readable, candidate.end()):
            continue  # a size or a code: "5000mah", "1234567x"
        for start, end, groups, separators in _parts(candidate.group(), candidate.start()):
            if sum(map(len, groups)) < MIN_LABELLED_DIGITS:
                continue
            glued = _GLUED_WORD.search(lowered, max(0, start - _LABEL_REACH), start)
            glued_label = (
                keywords.label_of(glued.group(1)) if glued and glued.end() == start else None
            )
            if glued is not None and glued.end() == start and glued_label is not Label.PHONE:
                continue
            label = _label(lowered, start)
            if label is Label.TRACKING and tracking_numbers_allowed:
                label = Label.CODE
            phone, taken = _is_phone(text, start, groups, separators, label)
            if phone:
                if taken < len(groups):
                    last = list(_GROUP.finditer(text, start, end))[taken - 1]
                    end = last.end()
                found.append(Found(start, end))
    return found
