"""Text as the detectors read it: every kind of digit as ASCII, numbers written as words as
digits, look-alike punctuation as ASCII, and where each character came from in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from slychat.moderation.number_words import WORDS, Role, Word, to_digits

# Invisible characters slipped between digits ("555\u200b1234") are dropped: marked with
# a NUL first (so that the text keeps its length), then taken out.
_DROPPED_CATEGORIES = frozenset({"Cf"})
_DROP = "\x00"
_DROPPED = re.compile(_DROP + "+")
_DIGIT_VALUES = frozenset(float(d) for d in range(10))
# Letters with the marks that belong to them: Devanagari's vowel signs are not `\w`.
_MARKS = "".join(
    chr(c) for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc")
)
TOKEN = re.compile(rf"(?:[^\W_]|[{re.escape(_MARKS)}])+")
_WORD_OR_DIGITS = re.compile(
    "(?>" + "|".join(sorted(map(re.escape, WORDS), key=len, reverse=True)) + r"|\d+)"
)
_ALL_WORDS_OR_DIGITS = re.compile(_WORD_OR_DIGITS.pattern + "++")
_PREFIXES = frozenset(word[:3] for word in WORDS if len(word) >= 3)
# A digit string with letters that stand in for digits: "O6l2345678".
_LETTER_DIGITS = re.compile(r"(?<![^\W_])(?=(?:[oli]*\d){4})[\doli]+(?![^\W_])")
_LETTER_DIGIT_VALUES = str.maketrans("oli", "011")
# What may stand between two number words of one number: "twenty-three", "five, five".
_GAP = re.compile(r"[\s,.\-]{0,3}")


@dataclass(frozen=True)
class Normalized:
    """`text` with, for each of its characters, the span of the original it stands for
    (`starts` and `ends`; None when the text is the original, character for character)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` came from."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]

    def spans(self) -> tuple[list[int], list[int]]:
        if self.starts is None or self.ends is None:
            positions = list(range(len(self.text)))
            return positions, [p + 1 for p in positions]
        return self.starts, self.ends


@functools.lru_cache(maxsize=4096)
def _char(char: str) -> str:
    """What one non-ASCII character reads as: a NUL (to be dropped), a digit, a letter without
    its accents, or itself."""
    if unicodedata.category(char) in _DROPPED_CATEGORIES:
        return _DROP
    digit = unicodedata.digit(char, None)
    if digit is not None:
        return str(digit)
    # Chinese and Japanese numerals, everyday and financial: 一三八〇, 壹贰叁 (not 十, 百).
    value = unicodedata.numeric(char, None)
    if value is not None and value in _DIGIT_VALUES and unicodedata.category(char) in ("Lo", "Nl"):
        return str(int(value))
    if char.isspace():
        return " "
    if unicodedata.category(char) == "Pd":
        return "-"
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1 and folded.isascii():
        return folded
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return bare if len(bare) == 1 and len(bare.lower()) == 1 else char


class _CharTable(dict[int, str]):
    """`_char` for `str.translate`, filled as characters are met (at most `_TABLE_SIZE`)."""

    def __missing__(self, code: int) -> str:
        mapped = _char(chr(code))
        if len(self) < _TABLE_SIZE:
            self[code] = mapped
        return mapped


_TABLE_SIZE = 20_000
_TABLE = _CharTable({c: chr(c) for c in range(128)})


def map_chars(text: str) -> Normalized:
    """The text with digits of every script and look-alike punctuation read as ASCII, and
    accents taken off letters (the first, cheap half of `normalize`)."""
    if text.isascii():
        return Normalized(text)
    mapped = text.translate(_TABLE)
    if _DROP not in mapped:  # character for character
        return Normalized(mapped)
    starts: list[int] = []
    kept = 0
    for dropped in _DROPPED.finditer(mapped):
        starts.extend(range(kept, dropped.start()))
        kept = dropped.end()
    starts.extend(range(kept, len(mapped)))
    return Normalized(mapped.replace(_DROP, ""), starts, list(map((1).__add__, starts)))


def fold(word: str) -> str:
    """A word as the detectors compare it: lower case, accents off (as `map_chars` reads)."""
    return map_chars(word).text.lower()


def may_be_glued(word: str) -> bool:
    """Whether a word may be number words written together ("fivefive"): a cheap look."""
    return len(word) > 3 and word[:3] in _PREFIXES


def spells_numbers(tokens: list[str]) -> bool:
    """Whether the words of a text (runs of letters and digits, lowered, in order) may spell
    out a number: a number word next to another or to digits ("five five", "555 one"), or
    letters and digits glued together ("five5", "O6l2345678"). A cheap first look, so that
    `read_number_words` runs only on such texts."""
    previous: bool | None = None  # the token before: a number word (True), digits (False)
    for token in tokens:
        word = WORDS.get(token)
        current: bool | None
        if word is not None:
            current = True if word.role not in (Role.AND, Role.ZERO_LETTER) else None
        elif token.isdigit():
            current = False
        elif any(c.isdigit() for c in token):
            return True  # letters and digits together
        elif may_be_glued(token) and _ALL_WORDS_OR_DIGITS.fullmatch(token):
            current = True
        else:
            current = None
        if current is not None and previous is not None and (current or previous):
            return True  # digits alone are read as they are
        previous = current
    return False


def has_number_parts(lowered: str) -> bool:
    """Whether a lowered text holds anything a phone number is read from: a digit, or a
    number word (alone or glued, as `read_number_words` reads them)."""
    return any(c.isdigit() for c in lowered) or bool(_items(lowered))


@dataclass(frozen=True)
class _Item:
    start: int
    end: int
    word: Word | None  # None: digits


def _items(lowered: str) -> list[_Item]:
    """The number words and digit strings of the text, glued ones ("five5") split."""
    items: list[_Item] = []
    for token in TOKEN.finditer(lowered):
        word = token.group()
        if word.isdigit():
            items.append(_Item(token.start(), token.end(), None))
        elif word in WORDS:
            items.append(_Item(token.start(), token.end(), WORDS[word]))
        elif (word[0].isdigit() or may_be_glued(word)) and _ALL_WORDS_OR_DIGITS.fullmatch(word):
            parts = [
                _Item(token.start() + m.start(), token.start() + m.end(), WORDS.get(m.group()))
                for m in _WORD_OR_DIGITS.finditer(word)
            ]
            if len(parts) == 1 or _glue_allowed([p.word for p in parts]):
                items.extend(parts)
    return items


def _glue_allowed(words: list[Word | None]) -> bool:
    """Whether words written together read as one number: "fivefive", "dreiundzwanzig",
    but not "tree" (Italian "tre" and "e")."""
    for i, word in enumerate(words):
        if word is None or word.role not in (Role.AND, Role.ZERO_LETTER):
            continue
        before = words[i - 1] if i else None
        after = words[i + 1] if i + 1 < len(words) else None
        if word.role is Role.ZERO_LETTER or before is None or after is None:
            return False
        if before.role is not Role.UNIT or after.role is not Role.TENS:
            return False
    return True


def _replacements(lowered: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) for each run of number words, in the order of the text."""
    items = _items(lowered)
    runs: list[list[_Item]] = []
    for item in items:
        last = runs[-1][-1] if runs else None
        joined = (
            last is not None
            and item.word is not None
            and last.word is not None
            and _GAP.fullmatch(lowered, last.end, item.start) is not None
        )
        if joined:
            runs[-1].append(item)
        elif item.word is not None:
            runs.append([item])
    out: list[tuple[int, int, str]] = []
    for run in runs:
        # "o" and "oh" are zero only inside a number: "five oh five", not "oh, five".
        while run and run[0].word is not None and run[0].word.role is Role.ZERO_LETTER:
            run.pop(0)
        while run and run[-1].word is not None and run[-1].word.role is Role.ZERO_LETTER:
            run.pop()
        words = [item.word for item in run if item.word is not None]
        groups = to_digits(words)
        for i, (digits, first, after) in enumerate(groups):
            out.append((run[first].start, run[after - 1].end, digits))
            following = groups[i + 1][1] if i + 1 < len(groups) else None
            if following is not None and run[following].start > run[after - 1].end:
                # "five, five": one space between the digits, so that they read as one number
                out.append((run[after - 1].end, run[following].start, " "))
    for token in _LETTER_DIGITS.finditer(lowered):
        if not token.group().isdigit():
            out.append((token.start(), token.end(), token.group().translate(_LETTER_DIGIT_VALUES)))
    return sorted(out)


def normalize(text: str) -> Normalized:
    """The text with digits of every script, numbers written as words and look-alike
    punctuation read as ASCII; each character knows where it came from."""
    return read_number_words(map_chars(text))


def read_number_words(chars: Normalized) -> Normalized:
    """`chars` (from `map_chars`) with numbers written as words read as digits."""
    replacements = _replacements(chars.text.lower())
    if not replacements:
        return chars
    char_starts, char_ends = chars.spans()
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for start, end, digits in replacements:
        if start < at:
            continue
        out.append(chars.text[at:start])
        starts.extend(char_starts[at:start])
        ends.extend(char_ends[at:start])
        out.append(digits)
        starts.extend([char_starts[start]] * len(digits))
        ends.extend([char_ends[end - 1]] * len(digits))
        at = end
    out.append(chars.text[at:])
    starts.extend(char_starts[at:])
    ends.extend(char_ends[at:])
    return Normalized("".join(out), starts, ends)
