"""Moderators' rules: terms folded for case, accents, look-alikes and leet, whole words in
every script; regular expressions under RE2, refused when RE2 cannot take them."""

from __future__ import annotations

import pytest
import re2

from slychat.moderation.rules import Action, Rule, RuleError, RuleKind, RuleSet, check_rule


def _rules(*rules: tuple[str, str, Action]) -> RuleSet:
    return RuleSet(
        Rule(str(i), RuleKind(kind), pattern, action)
        for i, (kind, pattern, action) in enumerate(rules)
    )


TERMS = _rules(
    ("term", "scam", Action.FLAG),
    ("term", "bad word", Action.MASK),
    ("term", "idiot", Action.MASK),
    ("term", "Straße", Action.FLAG),
    ("term", "дурак", Action.MASK),
    ("term", "حمار", Action.MASK),
    ("term", "微信", Action.MASK),
    ("term", "詐欺", Action.REFUSE),
    ("term", "café", Action.FLAG),
)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("this is a scam", "scam"),
        ("SCAM!", "SCAM"),
        ("Scám", "Scám"),  # accents
        ("sc4m", "sc4m"),  # leet
        ("$c@m", "$c@m"),
        ("ѕсаm", "ѕсаm"),  # Cyrillic look-alikes
        ("𝐬𝐜𝐚𝐦", "𝐬𝐜𝐚𝐦"),  # mathematical letters
        ("ｓｃａｍ", "ｓｃａｍ"),  # fullwidth
        ("1d10t", "1d10t"),  # 1 is i (and l), 0 is o
        ("IDIOT", "IDIOT"),
        ("B4D   W0RD here", "B4D   W0RD"),  # white space folded too
        ("strasse", "strasse"),  # ß folds to ss
        ("Ты ДУРАК", "ДУРАК"),  # Cyrillic
        ("انت حمار", "حمار"),  # Arabic
        ("加我微信吧", "微信"),  # Chinese: no spaces, so no word boundaries
        ("это詐欺です", "詐欺"),
        ("un cafe noir", "cafe"),
    ],
)
def test_terms_match_after_folding(text: str, matched: str) -> None:
    result = TERMS.match(text)
    assert [text[m.start : m.end] for m in result.matches] == [matched]


@pytest.mark.parametrize(
    "text",
    ["scammer", "scams", "a scamp", "badword", "idiotic", "дураки", "nothing here", ""],
)
def test_terms_match_whole_words_only(text: str) -> None:
    assert TERMS.match(text).matches == ()


def test_the_strongest_action_wins() -> None:
    result = TERMS.match("scam, you idiot, 詐欺")
    assert result.action is Action.REFUSE
    assert [m.action for m in result.matches] == [Action.FLAG, Action.MASK, Action.REFUSE]
    assert result.spans(Action.MASK) == [(10, 15)]
    assert TERMS.match("hello").action is None


def test_regular_expressions() -> None:
    rules = _rules(
        ("regex", r"(?i)western\s+union", Action.REFUSE),
        ("regex", r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b", Action.MASK),
    )
    result = rules.match("pay by Western  Union or card 4111 1111 1111 1111")
    assert [(m.rule_id, m.action) for m in result.matches] == [
        ("0", Action.REFUSE),
        ("1", Action.MASK),
    ]
    assert result.matches[1].start == "pay by Western  Union or card ".__len__()


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "linear-time engine"),  # a backreference
        (r"(?=a)b", "linear-time engine"),  # look-ahead
        (r"(?<!a)b", "linear-time engine"),  # look-behind
        (r"a++", "linear-time engine"),  # possessive
        ("(", "linear-time engine"),
        ("a{1001}", "linear-time engine"),
        (r"[\pL\pN]{1000}[\pL\pN]{1000}", "too large"),  # over the automaton's memory
        ("a*", "empty text"),
        ("", "1 to 1000"),
        ("x" * 1001, "1 to 1000"),
    ],
)
def test_patterns_re2_cannot_take_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        check_rule("regex", pattern)
    with pytest.raises(RuleError, match=f"rule 0: .*{reason}"):
        _rules(("regex", pattern, Action.FLAG))


@pytest.mark.parametrize(("kind", "pattern"), [("term", ""), ("term", " !? "), ("words", "x")])
def test_unusable_terms_and_kinds_are_refused(kind: str, pattern: str) -> None:
    with pytest.raises(RuleError):
        check_rule(kind, pattern)


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    """`(a+)+$` takes a backtracking engine exponential time on "aaaa…b"; RE2 accepts it and
    runs it as an automaton, one pass over the text, on a 5,000-character message."""
    check_rule("regex", "(a+)+$")
    rules = _rules(("regex", "(a+)+$", Action.REFUSE), ("regex", "(x+x+)+y", Action.REFUSE))
    assert all(isinstance(regex, re2._Regexp) for _, regex in rules._regexes)
    assert rules.match("a" * 4999 + "b").matches == ()
    assert rules.match("x" * 5000).matches == ()
    assert [m.end for m in rules.match("b" + "a" * 4999).matches] == [5000]
