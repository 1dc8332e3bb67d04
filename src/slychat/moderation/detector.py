"""The contact-detail detector: phone numbers, e-mail addresses, links and messenger
handles in a text, and the text with them masked. Pure: no I/O, no state between calls."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from slychat.moderation.domains import DOT_WORDS, normalize_hosts, registrable
from slychat.moderation.emails import AT_WORDS, PROVIDERS, find_emails
from slychat.moderation.links import find_links
from slychat.moderation.masking import DEFAULT_MASK, mask_spans
from slychat.moderation.messengers import BRAND_WORDS, find_messengers
from slychat.moderation.normalize import (
    TOKEN,
    Normalized,
    has_number_parts,
    map_chars,
    may_be_glued,
    read_number_words,
    spells_numbers,
)
from slychat.moderation.number_words import WORDS
from slychat.moderation.phones import MIN_LABELLED_DIGITS, find_phones
from slychat.moderation.spans import Contact, Kind, drop_overlapped

_DIGIT = re.compile(r"\d")
_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c != "'"})
# A dot inside a word ("site.com"), a spaced or bracketed one ("site . com", "site(.)com"),
# an @, or a scheme: anything else cannot hold an address or a link.
_ADDRESS_SIGN = re.compile(r"[@:]|\.(?=[^\W_])|\s\.\s|[(\[{<]\s*\.")
_TRIGGER_WORDS = frozenset(DOT_WORDS) | frozenset(AT_WORDS[1:]) | PROVIDERS | BRAND_WORDS
_SIGNS = re.compile(r"[\d.@:]")
_WORDS_TO_READ = _TRIGGER_WORDS | frozenset(WORDS)
# Scripts written without spaces have no words to look up.
_CJK_TRIGGERS = ("微信", "加我", "ライン")
# Masking again until nothing is found: a detail can come together only once the one next
# to it is masked ("[contact hidden]" itself says "contact"); two or three rounds at most
# in practice, and a bound on a text built to need more.
_MAX_ROUNDS = 10


@dataclass(frozen=True)
class Masked:
    """A text with its contact details masked, and what was found in the original."""

    text: str
    contacts: tuple[Contact, ...]

    @property
    def masked(self) -> bool:
        return bool(self.contacts)


class ContactDetector:
    """Finds contact details in texts; one instance per configuration, shared freely."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] | str = (),
        *,
        tracking_numbers_allowed: bool = False,
    ) -> None:
        self.allowed_hosts = normalize_hosts(allowed_hosts)
        registrable("example.com")  # the suffix list is read now, not on the first message
        self.tracking_numbers_allowed = tracking_numbers_allowed
        self._masks_checked: set[str] = set()

    def check_mask(self, mask: str) -> None:
        """Raises ValueError when `mask` would itself be read as a contact detail (masking
        with it could never finish): settings check their mask text with this."""
        if mask not in self._masks_checked:
            if self.find(mask):
                raise ValueError(f"the mask {mask!r} reads as a contact detail itself")
            self._masks_checked.add(mask)

    def may_hold_number_part(self, text: str) -> bool:
        """Whether `text` holds a digit or a number word: only such a text can end a phone
        number split over several messages (a number's span ends on one of them)."""
        return has_number_parts(map_chars(text).text.lower())

    def may_end_split_number(self, text: str) -> bool:
        """Whether a phone number begun in earlier messages could end in `text`: it would
        cover `text`'s first character (see `may_join_numbers`), and end on a digit or a
        number word. Most texts are ruled out by their first word alone, before anything
        about the sender's earlier messages is looked up."""
        return _edge_may_be_number(text, last=False) and self.may_hold_number_part(text)

    def may_join_numbers(self, before: str, after: str) -> bool:
        """Whether a phone number could run from the end of `before` into the start of
        `after` (joined with a space): it would cover the last character of one and the
        first of the other, and a number holds only digits, number words (glued ones too)
        and signs, so a word that is none of these at either edge rules it out."""
        return _edge_may_be_number(before, last=True) and _edge_may_be_number(after, last=False)

    def find(self, text: str) -> list[Contact]:
        """The contact details in `text`, in order, none overlapping another."""
        chars = map_chars(text)
        lowered = chars.text.lower()
        if lowered.isascii():  # most messages: the words are what lies between spaces
            tokens = lowered.translate(_PUNCTUATION_TO_SPACE).split()
            words = set(tokens)
            if (
                _SIGNS.search(lowered) is None
                and words.isdisjoint(_WORDS_TO_READ)
                and not any(map(may_be_glued, words))
            ):
                return []  # no digit, dot, @ or colon, and no word that could start anything
        else:
            tokens = TOKEN.findall(lowered)
            words = set(tokens)
        spelled = spells_numbers(tokens)
        phones = spelled or len(_DIGIT.findall(lowered)) >= MIN_LABELLED_DIGITS
        addresses = any(sign in lowered for sign in ".@:") and (
            _ADDRESS_SIGN.search(lowered) is not None
        )
        triggers = not words.isdisjoint(_TRIGGER_WORDS) or any(w in lowered for w in _CJK_TRIGGERS)
        if not (phones or addresses or triggers):
            return []  # the common case: a message without any of it costs only this look
        norm = read_number_words(chars) if spelled else chars
        found: list[Contact] = []
        if phones:
            for phone in find_phones(
                norm.text, tracking_numbers_allowed=self.tracking_numbers_allowed
            ):
                found.append(_contact(norm, phone.start, phone.end, Kind.PHONE))
        if addresses or triggers:
            for start, end in find_emails(norm.text):
                found.append(_contact(norm, start, end, Kind.EMAIL))
            for link in find_links(norm.text, self.allowed_hosts):
                found.append(_contact(norm, link.start, link.end, link.kind))
        if triggers:
            for start, end in find_messengers(norm.text):
                found.append(_contact(norm, start, end, Kind.MESSENGER))
        return drop_overlapped(found)

    def mask(
        self,
        text: str,
        *,
        mask: str = DEFAULT_MASK,
        max_length: int | None = None,
        also: Iterable[tuple[int, int]] = (),
    ) -> Masked:
        """`text` with every contact detail, and the spans in `also` (the part of a number
        split over several messages, say), replaced by `mask`, never longer than
        `max_length` (see `mask_spans`); what was found is in `contacts`.

        Masking runs again on its own result until nothing more is found, so that text
        that only came together around a removed detail is caught and masking a masked
        text changes nothing.
        """
        self.check_mask(mask)
        contacts = self.find(text)
        masked = text
        spans = [(c.start, c.end) for c in contacts] + list(also)
        for _ in range(_MAX_ROUNDS):
            if not spans:
                break
            masked = mask_spans(masked, spans, mask, max_length)
            spans = [(c.start, c.end) for c in self.find(masked)]
        return Masked(masked, tuple(contacts))


def _edge_may_be_number(text: str, *, last: bool) -> bool:
    """Whether the first (or `last`) character of `text`, blanks aside, may lie inside a
    phone number: a sign may; a letter or digit only if its word holds a number part."""
    lowered = map_chars(text).text.lower().strip()
    if not lowered:
        return True
    chunk = lowered.rsplit(maxsplit=1)[-1] if last else lowered.split(maxsplit=1)[0]
    words = TOKEN.findall(chunk)
    edge = chunk[-1] if last else chunk[0]
    if not words or not TOKEN.fullmatch(edge):
        return True  # a sign: "+", "(", "-", "." and the like sit inside numbers
    return has_number_parts(words[-1] if last else words[0])


def _contact(norm: Normalized, start: int, end: int, kind: Kind) -> Contact:
    first, last = norm.original(start, end)
    return Contact(first, last, kind)
