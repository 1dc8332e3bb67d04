"""Numbers written as words, per language: what each word is worth and how words combine.

English, Spanish, French, German, Portuguese, Italian and Dutch have units, teens, tens and
hundreds (so "zéro six douze trente-quatre" and "dreiundzwanzig" read as digits); Russian
has units, teens and tens; Arabic and Hindi (Devanagari) have the units. Words are written
here without accents: text is compared after its accents are taken off.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.Enum):
    UNIT = "unit"  # 0-9
    TEEN = "teen"  # 10-19
    TENS = "tens"  # 20, 30, ... 90
    PAIR = "pair"  # a two-digit number in one word: "veintitres", "ventotto"
    HUNDRED = "hundred"
    REPEAT = "repeat"  # "double five" is 55
    AND = "and"  # joins tens and units: "vingt et un", "treinta y dos", "drei und zwanzig"
    ZERO_LETTER = "zero-letter"  # "oh" and "o": zero only between other numbers


@dataclass(frozen=True)
class Word:
    role: Role
    value: int


def _table(role: Role, words: str, start: int, step: int = 1) -> dict[str, Word]:
    """`words` (space-separated, `|` between spellings of one value) numbered from `start`."""
    table: dict[str, Word] = {}
    for i, spellings in enumerate(words.split()):
        for spelling in spellings.split("|"):
            table[spelling] = Word(role, start + i * step)
    return table


_UNITS = [
    "zero|oh|cero|zero|null|nul|nulla one|un|une|uno|una|eins|ein|eine|um|uma|een two|dos|deux"
    "|zwei|zwo|dois|duas|due|twee three|tres|trois|drei|tre|drie four|cuatro|quatre|vier"
    "|quatro|quattro five|cinco|cinq|funf|cinque|vijf six|seis|sechs|meia|sei|zes seven|siete"
    "|sept|sieben|sete|sette|zeven eight|ocho|huit|acht|oito|otto nine|nueve|neuf|neun|nove|negen",
    # Russian, Arabic, Hindi.
    "ноль|нуль один|одна|одно два|две три четыре пять шесть семь восемь девять",
    "صفر واحد اثنان|اثنين|اثنا ثلاثة|ثلاث اربعة|اربع خمسة|خمس ستة|ست سبعة|سبع ثمانية|ثمان|ثماني"
    " تسعة|تسع",
    "शून्य एक दो तीन चार पांच|पाँच छह|छः|छे सात आठ नौ",
]
_TEENS = [
    "ten|diez|dix|zehn|dez|dieci|tien eleven|once|onze|elf|undici twelve|doce|douze|zwolf|doze"
    "|dodici|twaalf thirteen|trece|treize|dreizehn|treze|tredici|dertien fourteen|catorce"
    "|quatorze|vierzehn|catorze|quattordici|veertien fifteen|quince|quinze|funfzehn|quindici"
    "|vijftien sixteen|dieciseis|seize|sechzehn|dezesseis|dezasseis|sedici|zestien seventeen"
    "|diecisiete|siebzehn|dezessete|dezassete|diciassette|zeventien eighteen|dieciocho|achtzehn"
    "|dezoito|diciotto|achttien nineteen|diecinueve|neunzehn|dezenove|dezanove|diciannove"
    "|negentien",
    "десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать"
    " восемнадцать девятнадцать",
]
_TENS = [
    "twenty|veinte|vingt|vingts|zwanzig|vinte|venti|twintig thirty|treinta|trente|dreissig"
    "|dreißig|trinta|trenta|dertig forty|cuarenta|quarante|vierzig|quarenta|quaranta|veertig"
    " fifty|cincuenta|cinquante|funfzig|cinquenta|cinquanta|vijftig sixty|sesenta|soixante"
    "|sechzig|sessenta|sessanta|zestig seventy|setenta|septante|siebzig|settanta|zeventig"
    " eighty|ochenta|huitante|octante|achtzig|oitenta|ottanta|tachtig ninety|noventa|nonante"
    "|neunzig|novanta|negentig",
    "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто",
]
_HUNDRED = "hundred|cien|ciento|cent|cents|hundert|cem|cento|honderd|сто"
_AND = "and|y|et|und|e|en"


def _pairs() -> dict[str, Word]:
    """Two-digit numbers written as one word: Spanish 21-29 and Italian tens with units."""
    pairs: dict[str, Word] = {}
    spanish = "veintiuno|veintiun veintidos veintitres veinticuatro veinticinco veintiseis"
    pairs.update(_table(Role.PAIR, spanish + " veintisiete veintiocho veintinueve", 21))
    units = ["", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"]
    stems = ["venti", "trenta", "quaranta", "cinquanta", "sessanta", "settanta", "ottanta"]
    for tens, stem in enumerate([*stems, "novanta"], start=2):
        for unit in range(1, 10):
            # The tens lose their last vowel before "uno" and "otto": "ventuno", "trentotto".
            glue = stem[:-1] if units[unit][0] in "ou" else stem
            pairs[glue + units[unit]] = Word(Role.PAIR, tens * 10 + unit)
    return pairs


def _words() -> dict[str, Word]:
    words: dict[str, Word] = {}
    for block in _UNITS:
        words.update(_table(Role.UNIT, block, 0))
    for block in _TEENS:
        words.update(_table(Role.TEEN, block, 10))
    for block in _TENS:
        words.update(_table(Role.TENS, block, 20, 10))
    words.update(_table(Role.HUNDRED, _HUNDRED, 100, 0))
    words.update(_table(Role.AND, _AND, 0, 0))
    words.update(_pairs())
    words["double"] = Word(Role.REPEAT, 2)
    words["triple"] = Word(Role.REPEAT, 3)
    words["o"] = words["oh"] = Word(Role.ZERO_LETTER, 0)
    return words


WORDS: dict[str, Word] = _words()


def _tens_and_unit(words: list[Word], i: int) -> tuple[int, int] | None:
    """A two-digit number starting at `words[i]` and how many words it takes, else None."""
    word = words[i]
    rest = words[i + 1 : i + 4]
    after_ten = rest and rest[0].role is Role.UNIT and rest[0].value >= 7
    if word.role is Role.TEEN and word.value == 10 and after_ten:
        return 10 + rest[0].value, 2  # French and Portuguese: dix-sept, dez e sete
    if word.role in (Role.TEEN, Role.PAIR):
        return word.value, 1
    taken = 1
    tens = word.value if word.role is Role.TENS else None
    twenty = rest and rest[0].role is Role.TENS and rest[0].value == 20
    if word.role is Role.UNIT and word.value == 4 and twenty:
        tens, taken, rest = 80, 2, rest[1:]  # French: quatre-vingt
    if tens is None:
        if (
            word.role is Role.UNIT
            and len(rest) >= 2
            and rest[0].role is Role.AND
            and rest[1].role is Role.TENS
        ):
            return rest[1].value + word.value, 3  # German and Dutch: drei-und-zwanzig
        return None
    if rest and rest[0].role is Role.AND:
        rest, link = rest[1:], 1
    else:
        link = 0
    if rest and rest[0].role is Role.UNIT and rest[0].value > 0:
        return tens + rest[0].value, taken + link + 1
    if rest and rest[0].role is Role.TEEN and tens in (60, 80):
        teen = _tens_and_unit(rest, 0)  # French: soixante-dix-huit, quatre-vingt-douze
        if teen is not None:
            return tens + teen[0], taken + link + teen[1]
    return tens, taken


def to_digits(words: list[Word]) -> list[tuple[str, int, int]]:
    """The digit groups a run of number words stands for, each with the range of words it
    takes: "five five twenty-three" is [("5", 0, 1), ("5", 1, 2), ("23", 2, 4)]."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        start, word = i, words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        pair = _tens_and_unit(words, i)
        if word.role is Role.REPEAT and nxt is not None and nxt.role is Role.UNIT:
            digits = str(nxt.value) * word.value
            i += 2
        elif word.role is Role.UNIT and nxt is not None and nxt.role is Role.HUNDRED:
            i += 2
            linked = i < len(words) and words[i].role is Role.AND
            i += linked
            rest = _tens_and_unit(words, i) if i < len(words) else None
            if rest is None and linked and i < len(words) and words[i].role is Role.UNIT:
                rest = (words[i].value, 1)  # "five hundred and five"; without "and": 500 5
            if rest is None and linked:
                i -= 1  # the "and" joins nothing
            value, taken = rest if rest is not None else (0, 0)
            digits = str(word.value * 100 + value)
            i += taken
        elif pair is not None:
            digits = str(pair[0])
            i += pair[1]
        elif word.role is Role.HUNDRED:
            digits = "100"
            i += 1
        elif word.role in (Role.UNIT, Role.ZERO_LETTER):
            digits = str(word.value)
            i += 1
        else:  # an "and" that joins nothing, or a lone "double"
            i += 1
            continue
        out.append((digits, start, i))
    return out
