"""The contact-detail corpus (corpus/*.yaml) and its scores: `python -m tests.moderation.corpus`
prints the precision and recall that docs/security.md reports."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
import yaml

from slychat.moderation import Contact, ContactDetector, Kind
from slychat.moderation.normalize import normalize

CORPUS = Path(__file__).parent / "corpus"
# The hosts every case allows unless it says otherwise.
ALLOWED_HOSTS = ("marketplace.com", "cdn.example.net")


@dataclass(frozen=True)
class Case:
    source: str
    line: int
    text: str
    expected: tuple[tuple[Kind, int, int], ...]
    limit: str | None = None
    allowed_hosts: tuple[str, ...] = ALLOWED_HOSTS
    tracking_numbers_allowed: bool = False

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"

    def detector(self) -> ContactDetector:
        return _detector(self.allowed_hosts, self.tracking_numbers_allowed)


@functools.cache
def _detector(allowed: tuple[str, ...], tracking: bool) -> ContactDetector:
    return ContactDetector(allowed, tracking_numbers_allowed=tracking)


def _spans(text: str, found: list[list[str]], where: str) -> tuple[tuple[Kind, int, int], ...]:
    spans = []
    at = 0
    for kind, detail in found:
        start = text.find(detail, at)
        if start < 0:
            raise ValueError(f"{where}: {detail!r} is not in {text!r}")
        spans.append((Kind(kind), start, start + len(detail)))
        at = start + len(detail)
    return tuple(spans)


def load() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = iter(i for i, line in enumerate(lines, 1) if line.startswith("- "))
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
            line = next(rows)
            where = f"{path.name}:{line}"
            cases.append(
                Case(
                    source=path.stem,
                    line=line,
                    text=raw["text"],
                    expected=_spans(raw["text"], raw["find"], where),
                    limit=raw.get("limit"),
                    allowed_hosts=tuple(raw.get("allowed_hosts", ALLOWED_HOSTS)),
                    tracking_numbers_allowed=raw.get("tracking_numbers_allowed", False),
                )
            )
    return cases


def exact(case: Case, found: list[Contact]) -> bool:
    """Whether the detector found exactly the expected details, and nothing else."""
    return sorted((c.kind, c.start, c.end) for c in found) == sorted(case.expected)


@dataclass
class Score:
    caught: int = 0  # expected details covered by a detection of their kind
    missed: int = 0
    false: int = 0  # detections that overlap no expected detail
    cases: int = 0
    exact: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.caught / (self.caught + self.false) if self.caught + self.false else 1.0

    @property
    def recall(self) -> float:
        return self.caught / (self.caught + self.missed) if self.caught + self.missed else 1.0


Span = tuple[int, int]


def _tally(score: Score, expected: list[Span], found: list[Span], others: list[Span]) -> None:
    """Count an expected detail caught when one detection covers all of it, and a
    detection false when it overlaps no expected detail (of any kind, `others`)."""
    for start, end in expected:
        covered = any(s <= start and e >= end for s, e in found)
        score.caught += covered
        score.missed += not covered
    for s, e in found:
        score.false += not any(s < e2 and e > s2 for s2, e2 in expected + others)


def score(cases: list[Case]) -> dict[str, Score]:
    """Scores per corpus file and for all of it ("all"), kinds compared too."""
    scores: dict[str, Score] = {"all": Score()}
    for case in cases:
        found = case.detector().find(case.text)
        for key in (case.source, "all"):
            total = scores.setdefault(key, Score())
            total.cases += 1
            total.exact += exact(case, found)
            for kind in Kind:
                _tally(
                    total,
                    [(s, e) for k, s, e in case.expected if k is kind],
                    [(c.start, c.end) for c in found if c.kind is kind],
                    [(s, e) for k, s, e in case.expected if k is not kind],
                )
    return scores


def score_phones(cases: list[Case], region: str | None = None, matcher: bool = False) -> Score:
    """Phone numbers alone: found by the detector, or (`matcher`) by libphonenumber's own
    PhoneNumberMatcher (leniency POSSIBLE, one default region) in the same normalised text,
    the yardstick the detector's phone reading is measured against."""
    total = Score()
    for case in cases:
        if matcher:
            norm = normalize(case.text)
            found = [
                norm.original(m.start, m.end)
                for m in phonenumbers.PhoneNumberMatcher(
                    norm.text, region, leniency=phonenumbers.Leniency.POSSIBLE
                )
            ]
        else:
            found = [
                (c.start, c.end) for c in case.detector().find(case.text) if c.kind is Kind.PHONE
            ]
        total.cases += 1
        _tally(
            total,
            [(s, e) for k, s, e in case.expected if k is Kind.PHONE],
            found,
            [(s, e) for k, s, e in case.expected if k is not Kind.PHONE],
        )
    return total


def _row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def main() -> None:
    cases = load()
    positives = sum(1 for c in cases if c.expected)
    print(f"{len(cases)} cases: {positives} with contact details, {len(cases) - positives} without")
    print(
        _row(
            "corpus", "cases", "details caught", "missed", "false detections", "precision", "recall"
        )
    )
    print("|---|---|---|---|---|---|---|")
    for name, s in score(cases).items():
        precision = f"{s.precision:.1%}" if s.caught else "n/a"
        recall = f"{s.recall:.1%}" if s.caught + s.missed else "n/a"
        print(_row(name, s.cases, s.caught, s.missed, s.false, precision, recall))
    print("\nPhone numbers only, against libphonenumber's PhoneNumberMatcher on the same text:")
    print(_row("finder", "phones caught", "missed", "false detections", "precision", "recall"))
    print("|---|---|---|---|---|---|")
    finders = [("slychat.moderation", score_phones(cases))]
    for region in ("US", "GB", "FR"):
        finders.append((f"PhoneNumberMatcher, region {region}", score_phones(cases, region, True)))
    for name, f in finders:
        print(_row(name, f.caught, f.missed, f.false, f"{f.precision:.1%}", f"{f.recall:.1%}"))


if __name__ == "__main__":
    main()
