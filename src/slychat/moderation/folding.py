"""Text folded for matching moderators' terms: case, accents, look-alike letters (Unicode's
confusables, from the confusable-homoglyphs package) and leet digits all read the same,
"Ɓ4D w0rd" as "bad word", and each folded character knows where it came from."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

# Digits and signs written for letters. "1" is both "i" and "l", which therefore fold alike.
_LEET = {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_SIGNS = frozenset("@$")  # letters only inside a word: "b@d", but "me @ home" stays
_SAME = str.maketrans({"l": "i"})


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each character's prototype among the characters that look like it: Cyrillic "а"
    and mathematical "𝐚" are "a". Unicode's table pairs each look-alike with its prototype;
    the confusable-homoglyphs package gives those pairs in both directions. Its table is
    loaded here, on the first fold, not at import: a server without rules never needs it."""
    from confusable_homoglyphs.confusables import confusables_data

    prototype: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        targets = [h["c"] for h in homoglyphs]
        if len(char) != 1 or len(targets) != 1 or len(targets[0]) != 1:
            continue
        # A look-alike lists only its prototype; a prototype lists all its look-alikes.
        # Where two characters list only each other, either can stand for both.
        target = targets[0]
        if len(confusables_data.get(target, ())) > 1 or char > target:
            prototype[char] = target
    return prototype


@functools.lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    bare = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    ).casefold()
    out = []
    for c in bare:
        c = _LEET.get(c, c) if c not in _SIGNS else c
        c = _prototypes().get(c, c)
        out.append(c)
    folded = unicodedata.normalize("NFKD", "".join(out)).casefold()
    return "".join(c for c in folded if not unicodedata.combining(c)).translate(_SAME)


@dataclass(frozen=True)
class Folded:
    """Folded text with, for each character, the span of the original it came from."""

    text: str
    starts: list[int]
    ends: list[int]

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def fold(text: str) -> Folded:
    """`text` with case, accents, look-alikes and leet folded, and runs of white space
    read as one space."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, char in enumerate(text):
        if char.isspace():
            if out and out[-1] == " ":
                ends[-1] = i + 1
                continue
            folded = " "
        elif char in _SIGNS:
            inside = (i > 0 and text[i - 1].isalnum()) or (
                i + 1 < len(text) and text[i + 1].isalnum()
            )
            folded = _LEET[char] if inside else char
        else:
            folded = _fold_char(char)
        for c in folded:
            out.append(c)
            starts.append(i)
            ends.append(i + 1)
    return Folded("".join(out), starts, ends)


@functools.lru_cache(maxsize=4096)
def spaced_script(char: str) -> bool:
    """Whether words of this character's script are separated by spaces (not Chinese,
    Japanese, Thai, Lao, Khmer, Myanmar, Tibetan)."""
    name = unicodedata.name(char, "")
    return not name.startswith(
        ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN", "IDEOGRAPHIC")
    )
