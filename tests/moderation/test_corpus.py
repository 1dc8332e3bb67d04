"""The contact-detail corpus, case by case, and its precision and recall."""

from __future__ import annotations

import pytest

from tests.moderation.corpus import Case, exact, load, score, score_phones

CASES = load()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    found = case.detector().find(case.text)
    shown = [(c.kind.value, case.text[c.start : c.end]) for c in found]
    if case.limit:
        # A known limit (docs/security.md): when it starts passing, remove its `limit`.
        assert not exact(case, found), f"now passes, remove its limit: {case.limit}"
    else:
        assert exact(case, found), f"{case.text!r}: found {shown}"


def test_corpus_size() -> None:
    positives = [c for c in CASES if c.expected]
    negatives = [c for c in CASES if not c.expected]
    assert len(positives) >= 250
    assert len(negatives) >= 150


def test_precision_and_recall() -> None:
    """The figures docs/security.md gives: a regression below them fails here."""
    total = score(CASES)["all"]
    assert total.precision >= 0.99
    assert total.recall >= 0.95


def test_phones_beyond_libphonenumbers_own_matcher() -> None:
    """Fed the same normalised text, PhoneNumberMatcher (one default region, leniency
    POSSIBLE) misses other countries' national formats and reads prices and codes as
    numbers; the detector must stay ahead of it on both counts."""
    ours = score_phones(CASES)
    for region in ("US", "FR"):
        theirs = score_phones(CASES, region, matcher=True)
        assert ours.recall > theirs.recall
        assert ours.precision > theirs.precision
