"""Contact-detail detection and moderation rules: what each costs per message, in
microseconds.

Each text is masked (`ContactDetector.mask`, detection included) `REPEAT` times in a row and
its cost is the mean CPU time of those calls (the process's own CPU time, so that other
work on a shared machine does not count); the report gives the median and p99 of the
per-text costs over each set of texts, and each figure is the median of the runs.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from bench.common import Report
from slychat.moderation import Action, ContactDetector, Rule, RuleKind, RuleSet
from tests.moderation.corpus import load

REPEAT = 20
LONG = 5_000  # the longest message text the server accepts
BUDGET_US = 20.0  # a tenth of a typical send (~200 us server-side)

# What most chat messages look like: no number, address or link at all.
TYPICAL = [
    "Hi, is this still available?",
    "Yes, it is!",
    "Great, I'll take it.",
    "Can you do a little less?",
    "Sorry, the price is firm.",
    "When can I pick it up?",
    "Tomorrow afternoon works for me",
    "Does it come with the original box?",
    "Thanks a lot, have a nice day",
    "ok",
    "👍",
    "Is the color the same as in the photo?",
    "It fits perfectly, thank you.",
    "Could you send another picture of the back?",
    "I paid 45 for it, can you do 40?",
    "Delivered on 12/05, all good",
    "Hola, ¿sigue disponible?",
    "Bonjour, c'est toujours dispo ?",
    "Hallo, ist das noch zu haben?",
    "Olá, ainda está disponível?",
    "Привет, ещё продаётся?",
    "مرحبا، هل ما زال متاحا؟",
    "你好，还有货吗？",
    "こんにちは、まだありますか？",
]
# Ordinary words, split at run time: a list literal of them would fill a screen.
_PROSE = (
    "the item is in great condition and comes with the original box we can meet near the "
    "station on saturday if that works for you otherwise shipping takes two to three days "
    "colour size fits perfectly thank you very much for your patience"
)
WORDS = _PROSE.split()


def _prose(rng: random.Random, length: int) -> str:
    out: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:length]


def long_texts(rng: random.Random) -> dict[str, list[str]]:
    """5,000-character texts: plain prose, prose with contact details in it, and texts built
    to be hard (digits and separators, dots, number words, @ signs)."""
    corpus = [c.text for c in load() if c.expected]
    sprinkled = []
    for _ in range(10):
        parts: list[str] = []
        while sum(map(len, parts)) < LONG:
            parts.append(_prose(rng, 300))
            parts.append(rng.choice(corpus))
        sprinkled.append(" ".join(parts)[:LONG])
    hostile = [
        ("1 " * LONG)[:LONG],
        ("1 1 1 1x " * LONG)[:LONG],
        ("a." * LONG)[:LONG],
        ("a dot " * LONG)[:LONG],
        ("one two " * LONG)[:LONG],
        ("x@y " * LONG)[:LONG],
        ("+44 7911 123456 " * LONG)[:LONG],
        ("$1,000,000 " * LONG)[:LONG],
        ("٠١٢٣٤٥٦٧٨٩ " * LONG)[:LONG],
        ("add me on telegram " * LONG)[:LONG],
    ]
    return {
        "5,000 chars of prose": [_prose(rng, LONG) for _ in range(10)],
        "5,000 chars with contact details": sprinkled,
        "5,000 chars built to be hard": hostile,
    }


def rule_set(terms: int = 100, regexes: int = 20) -> RuleSet:
    """What a marketplace might keep: `terms` words (folded, whole words) and `regexes`
    patterns under RE2, mixed actions."""
    actions = list(Action)
    rules = [
        Rule(f"t{i}", RuleKind.TERM, f"badword{chr(97 + i % 26)}{i}", actions[i % 3])
        for i in range(terms)
    ]
    rules += [
        Rule(f"r{i}", RuleKind.REGEX, rf"\bcode-{i}-[0-9]{{3,}}\b", actions[i % 3])
        for i in range(regexes)
    ]
    return RuleSet(rules)


def _per_text_us(mask: Callable[[str], object], texts: list[str]) -> list[float]:
    costs = []
    for text in texts:
        mask(text)  # warm the caches for this text's characters
        start = time.process_time()
        for _ in range(REPEAT):
            mask(text)
        costs.append((time.process_time() - start) / REPEAT * 1e6)
    return costs


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(report: Report, runs: int) -> None:
    detector = ContactDetector(["marketplace.com"])

    def mask(text: str) -> object:
        return detector.mask(text, max_length=LONG)

    cases = load()
    sets = {
        "typical chat messages": TYPICAL,
        "corpus: all cases": [c.text for c in cases],
        "corpus: with contact details": [c.text for c in cases if c.expected],
        "corpus: without": [c.text for c in cases if not c.expected],
        **long_texts(random.Random(22)),
    }
    report.add(
        "## Contact details: masking cost per message\n\n"
        f"`ContactDetector.mask` (detection included) on each text, {REPEAT} calls in a row, "
        f"mean CPU time per call; median and p99 over the texts of each set; median of {runs} "
        "runs. "
        f"Budget: {BUDGET_US:.0f} us, a tenth of a typical send on the server.\n"
    )
    rows = []
    raw: dict[str, dict[str, float]] = {}
    for name, texts in sets.items():
        medians, p99s = [], []
        for _ in range(runs):
            costs = _per_text_us(mask, texts)
            medians.append(statistics.median(costs))
            p99s.append(_p99(costs))
        median, p99 = statistics.median(medians), statistics.median(p99s)
        raw[name] = {"texts": len(texts), "median_us": median, "p99_us": p99}
        rows.append([name, str(len(texts)), f"{median:.1f}", f"{p99:.1f}"])
    report.table(["texts", "count", "median (us)", "p99 (us)"], rows)
    report.data["moderation"] = raw

    rules = rule_set()
    report.add(
        "\n## Moderation rules: matching cost per message\n\n"
        f"`RuleSet.match` with {len(rules)} rules (100 terms, folded and matched as whole "
        "words in one alternation; 20 regular expressions under RE2) on the same texts, "
        "measured as above. Rules apply whatever the contact policy.\n"
    )
    rows = []
    matched: dict[str, dict[str, float]] = {}
    for name, texts in sets.items():
        medians, p99s = [], []
        for _ in range(runs):
            costs = _per_text_us(rules.match, texts)
            medians.append(statistics.median(costs))
            p99s.append(_p99(costs))
        median, p99 = statistics.median(medians), statistics.median(p99s)
        matched[name] = {"texts": len(texts), "median_us": median, "p99_us": p99}
        rows.append([name, str(len(texts)), f"{median:.1f}", f"{p99:.1f}"])
    report.table(["texts", "count", "median (us)", "p99 (us)"], rows)
    report.data["moderation_rules"] = matched
