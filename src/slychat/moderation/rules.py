"""Moderators' rules: terms, matched as whole words after folding (case, accents,
look-alikes, leet, in every script), and regular expressions under RE2, which runs in time
linear in the text; each with an action. Pure: compile once, match every message."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

import re2

from slychat.moderation.folding import fold, spaced_script

MAX_TERM_LENGTH = 200
MAX_PATTERN_LENGTH = 1000
# RE2's memory for one compiled pattern: enough for any reasonable rule, and a bound on
# patterns that would make huge automata ("(a|b|c){1000}" is refused).
_RE2_MAX_MEM = 8 << 20
_MAX_MATCHES = 100  # per rule and message: enough to mask, and a bound on the work


class Action(enum.StrEnum):
    """What a match does, weakest first: `flag` delivers and opens a report, `mask` hides
    the match, `refuse` refuses the whole message."""

    FLAG = "flag"
    MASK = "mask"
    REFUSE = "refuse"

    @property
    def strength(self) -> int:
        return list(Action).index(self)


class RuleKind(enum.StrEnum):
    TERM = "term"
    REGEX = "regex"


class RuleError(ValueError):
    """A rule that cannot be used; the message says why, for an HTTP 400."""


@dataclass(frozen=True)
class Rule:
    id: str
    kind: RuleKind
    pattern: str
    action: Action


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched `text[start:end]`."""

    rule_id: str
    action: Action
    start: int
    end: int


@dataclass(frozen=True)
class RuleResult:
    matches: tuple[RuleMatch, ...]

    @property
    def action(self) -> Action | None:
        """The strongest action among the matches, or None when nothing matched."""
        return max((m.action for m in self.matches), key=lambda a: a.strength, default=None)

    def spans(self, action: Action) -> list[tuple[int, int]]:
        """Where the rules with this action matched (for `mask`: what to hide)."""
        return [(m.start, m.end) for m in self.matches if m.action is action]


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False
    return options


def compile_regex(pattern: str) -> re2._Regexp[str]:
    """The RE2 program of a regex rule; RuleError when RE2 cannot take it (backreferences,
    look-around: what makes other engines slow) or it is too long or matches nothing."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"a pattern must have 1 to {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        reason = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        raise RuleError(
            f"the pattern is not supported by the linear-time engine (RE2): {reason}"
        ) from None
    if compiled.search("") is not None:
        raise RuleError("the pattern matches an empty text, so it would match every message")
    return compiled


def fold_term(term: str) -> str:
    """A term as it is matched: folded, without outer spaces; RuleError when nothing is left."""
    if not term or len(term) > MAX_TERM_LENGTH:
        raise RuleError(f"a term must have 1 to {MAX_TERM_LENGTH} characters")
    folded = fold(term).text.strip()
    if not any(c.isalnum() for c in folded):
        raise RuleError("a term needs at least one letter or digit")
    return folded


def check_rule(kind: str, pattern: str) -> None:
    """Raises RuleError when a rule of this kind and pattern cannot be used (the admin API
    checks a rule with this before storing it)."""
    try:
        rule_kind = RuleKind(kind)
    except ValueError:
        raise RuleError("kind must be one of: term, regex") from None
    if rule_kind is RuleKind.TERM:
        fold_term(pattern)
    else:
        compile_regex(pattern)


def _term_pattern(folded: str) -> str:
    # A whole word: no letter or digit right after, except in scripts written without
    # spaces, where a word is any run of its characters (the check before: `_terms_regex`).
    after = r"(?!\w)" if spaced_script(folded[-1]) else ""
    return re.escape(folded) + after


def _terms_regex(terms: list[str]) -> re.Pattern[str] | None:
    """One regex of every term, longest first (so that "bad word" wins over "bad" where
    both match). Terms that begin in a spaced script share one look-behind (no letter or
    digit right before), outside their alternation: in front of each alternative it kept
    Python's engine from skipping on at a position no term starts with, and cost 30 times
    as much on a long text with 100 terms. A term of either group never starts where one
    of the other could, so splitting them changes no match."""
    ordered = sorted(terms, key=len, reverse=True)
    spaced = [t for t in ordered if spaced_script(t[0])]
    unspaced = [t for t in ordered if not spaced_script(t[0])]
    groups = []
    if spaced:
        groups.append(r"(?<!\w)(?:" + "|".join(map(_term_pattern, spaced)) + ")")
    if unspaced:
        groups.append("(?:" + "|".join(map(_term_pattern, unspaced)) + ")")
    return re.compile("|".join(groups)) if groups else None


class RuleSet:
    """Compiled rules; `match` is pure and may be called from any thread."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._terms: dict[str, list[Rule]] = {}
        self._regexes: list[tuple[Rule, re2._Regexp[str]]] = []
        for rule in rules:
            try:
                if rule.kind is RuleKind.TERM:
                    self._terms.setdefault(fold_term(rule.pattern), []).append(rule)
                else:
                    self._regexes.append((rule, compile_regex(rule.pattern)))
            except RuleError as exc:
                raise RuleError(f"rule {rule.id}: {exc}") from None
        # Every alternative is a literal: Python's engine cannot backtrack badly on them.
        self._term_regex = _terms_regex(list(self._terms))

    def __len__(self) -> int:
        return sum(map(len, self._terms.values())) + len(self._regexes)

    def match(self, text: str) -> RuleResult:
        matches: list[RuleMatch] = []
        if self._term_regex is not None:
            folded = fold(text)
            for term in self._term_regex.finditer(folded.text):
                start, end = folded.original(*term.span())
                for rule in self._terms[term.group()]:
                    matches.append(RuleMatch(rule.id, rule.action, start, end))
        for rule, regex in self._regexes:
            for count, found in enumerate(regex.finditer(text)):
                if count == _MAX_MATCHES:
                    break
                if found.end() > found.start():
                    matches.append(RuleMatch(rule.id, rule.action, found.start(), found.end()))
        return RuleResult(tuple(sorted(matches, key=lambda m: (m.start, m.end))))
