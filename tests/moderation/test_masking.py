"""Masking: merged spans, the length limit, and properties over arbitrary Unicode text
(idempotent, never past the limit, no digit of a detected number left)."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slychat.moderation import DEFAULT_MASK, ContactDetector, Kind, mask_spans
from slychat.moderation.masking import SHORT_MASK_CHAR
from tests.moderation.corpus import load

DETECTOR = ContactDetector(["marketplace.com"])
SNIPPETS = sorted({c.text[s:e] for c in load() for _, s, e in c.expected})

any_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=80)
digits_and_signs = st.text("0123456789 +-.()/@٣۴५０", max_size=24)
messages = st.lists(
    st.one_of(any_text, digits_and_signs, st.sampled_from(SNIPPETS)), max_size=8
).map(" ".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _digits(text: str) -> int:
    return sum(1 for c in text if unicodedata.digit(c, None) is not None)


def test_spans_are_merged_and_replaced_once() -> None:
    text = "a 0123456789 b"
    assert mask_spans(text, [(2, 8), (5, 12)]) == f"a {DEFAULT_MASK} b"
    assert mask_spans(text, [(2, 6), (6, 12)]) == f"a {DEFAULT_MASK} b"
    assert mask_spans(text, []) == text
    assert mask_spans(text, [(5, 5)]) == text


def test_masks_would_overflow_the_limit() -> None:
    """Spans shorter than the mask are covered character for character instead."""
    text = "call 5551234 or 5557654 now"
    assert len(mask_spans(text, [(5, 12), (16, 23)])) > len(text)
    limited = mask_spans(text, [(5, 12), (16, 23)], max_length=len(text))
    assert limited == f"call {SHORT_MASK_CHAR * 7} or {SHORT_MASK_CHAR * 7} now"
    # A span at least as long as the mask still gets the mask: it only shortens the text.
    text = "+44 (0) 7911 123456 or 5551234"
    limited = mask_spans(text, [(0, 19), (23, 30)], max_length=len(text))
    assert limited == f"{DEFAULT_MASK} or {SHORT_MASK_CHAR * 7}"
    assert len(limited) <= len(text)


def test_masking_a_message() -> None:
    result = DETECTOR.mask("call me on +44 7911 123456 or mail lola@gmail.com")
    assert result.text == f"call me on {DEFAULT_MASK} or mail {DEFAULT_MASK}"
    assert result.masked
    assert [c.kind for c in result.contacts] == [Kind.PHONE, Kind.EMAIL]
    clean = DETECTOR.mask("Googlemaps says 20 minutes")
    assert clean.text == "Googlemaps says 20 minutes"
    assert not clean.masked


def test_a_custom_mask() -> None:
    assert DETECTOR.mask("wa.me/447911123456", mask="***").text == "***"


@PROPERTY
@given(messages, st.integers(min_value=0, max_value=400))
def test_masking_is_idempotent_and_within_the_limit(text: str, limit: int) -> None:
    once = DETECTOR.mask(text, max_length=limit).text
    assert DETECTOR.mask(once, max_length=limit).text == once
    assert DETECTOR.find(once) == []
    assert len(once) <= max(limit, len(text))


@PROPERTY
@given(messages)
def test_no_digit_of_a_detected_number_is_left(text: str) -> None:
    found = DETECTOR.find(text)
    phones = [c for c in found if c.kind is Kind.PHONE]
    masked = DETECTOR.mask(text).text
    hidden = sum(_digits(text[c.start : c.end]) for c in phones)
    assert _digits(masked) <= _digits(text) - hidden
    for contact in found:
        assert 0 <= contact.start < contact.end <= len(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_allowed_hosts_from_a_setting() -> None:
    detector = ContactDetector(" Shop.Example.com, .cdn.example.net ,")
    assert detector.allowed_hosts == frozenset({"shop.example.com", "cdn.example.net"})
    assert detector.find("see www.shop.example.com/x and img.cdn.example.net/1.jpg") == []


def test_a_mask_that_is_a_contact_detail_is_refused() -> None:
    with pytest.raises(ValueError, match="reads as a contact detail"):
        DETECTOR.mask("call 0612345678", mask="see example.com")
    DETECTOR.check_mask("[removed]")
