"""Numbers that are not phone numbers: dates, times, prices, quantities and sizes, network
addresses, amounts written with thousands separators, lists of years. The phone detector
blanks the first kinds out of the text before it looks for numbers, and asks about the
last ones for each number it finds.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from slychat.moderation.keywords import alternatives

_CURRENCY_SYMBOLS = "".join(
    chr(c) for c in range(min(sys.maxunicode, 0xFFFF) + 1) if unicodedata.category(chr(c)) == "Sc"
)
_CURRENCY_WORDS = (
    "usd eur gbp jpy cny rmb inr rub brl mxn cad aud chf sek nok dkk pln czk huf try aed sar"
    " qar kwd egp zar ngn kes thb idr myr php vnd krw sgd hkd nzd ils ars clp cop pen uah"
    " dollar dollars bucks euro euros pound pounds quid rupee rupees rs yen yuan won lira lire"
    " real reais peso pesos rand naira dirham dirhams riyal riyals ruble rubles rouble roubles"
    " руб рублей рубля грн zl zloty kr kc ft лв lei cents centimes"
)
_UNITS = (
    "mm cm m km in inch inches ft feet foot yd mi miles kg kgs g gr grams mg lb lbs oz ml cl"
    " l lt liter liters litre litres gal gb mb kb tb mah wh kwh w kw v hz khz mhz ghz px dpi"
    " mp pcs pc pieces piece units unit items pairs sets boxes packs sqm m2 m3 rpm psi bar"
    " mph kmh cal kcal stk stuck pieza piezas unidades pieces unites шт"
)


# Repetitions are bounded so that no text makes the search slower than linear.
_AMOUNT = r"\d{1,3}(?:[.,' ]\d{3}){1,6}(?:[.,]\d{1,2})?|\d{1,9}(?:[.,]\d{1,2})?"
_CURRENCY = rf"[{re.escape(_CURRENCY_SYMBOLS)}]"
_BEFORE_AMOUNT = rf"(?:{_CURRENCY}|(?<![^\W\d_]){alternatives(_CURRENCY_WORDS.split())}) ?"
_AFTER_AMOUNT = (
    rf" ?(?:{_CURRENCY}|{alternatives((_CURRENCY_WORDS + ' ' + _UNITS).split())}(?![^\W\d_]))"
)
# What is blanked, each with the characters it cannot do without (a cheap first look).
_BLOCKERS = [
    # A price or a quantity: "$1,250", "1 250,00 €", "EUR 99", "5000 mAh", "2 kg".
    (
        None,
        re.compile(rf"{_BEFORE_AMOUNT}(?:{_AMOUNT})|(?:{_AMOUNT}){_AFTER_AMOUNT}"),
    ),
    # A date: 12/05/2024, 2024-05-12, 12.05.24 (checked below: day, month, year).
    (
        "./-",
        re.compile(r"(?<![\d./-])\d{1,4}(?P<sep>[./-])\d{1,2}(?P=sep)\d{1,4}(?![./-]?\d)"),
    ),
    # A time: 10:30, 9:05:59, 18h30.
    (":h", re.compile(r"(?<!\d)\d{1,2}[:h]\d{2}(?::\d{2})?(?!\d)")),
    # A network address or a version: 192.168.1.20.
    (".", re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![.\d])")),
]
_LETTER_OR_SIGN = re.compile(rf"[^\W\d_]|{_CURRENCY}")


def _is_date(text: str) -> bool:
    first, month, last = (int(p) for p in re.split(r"[./-]", text))
    if first > 31:  # the year first: 2024-05-12
        return 1900 <= first <= 2100 and 1 <= month <= 12 and 1 <= last <= 31
    day_first = 1 <= first <= 31 and 1 <= month <= 12
    month_first = 1 <= first <= 12 and 1 <= month <= 31  # 05/12/2024 in the US
    return (day_first or month_first) and (last <= 99 or 1900 <= last <= 2100)


def blank(lowered: str, start: int = 0, end: int | None = None) -> str:
    """The text with the dates, times, prices, quantities and network addresses between
    `start` and `end` replaced by letters, so that no phone number can be read through them."""
    end = len(lowered) if end is None else end
    window = lowered[start:end]
    out: list[str] | None = None
    for kind, (needs, blocker) in enumerate(_BLOCKERS):
        if needs is None:
            if _LETTER_OR_SIGN.search(window) is None:
                continue  # no currency and no unit: no price or quantity
        elif not any(sign in window for sign in needs):
            continue
        for match in blocker.finditer(lowered, start, end):
            if kind == 1 and not _is_date(match.group()):
                continue
            if kind == 3 and any(int(part) > 255 for part in match.group().split(".")):
                continue
            if out is None:
                out = list(lowered)
            out[match.start() : match.end()] = "x" * (match.end() - match.start())
    return lowered if out is None else "".join(out)


def is_amount(groups: list[str], separators: list[str]) -> bool:
    """Whether digit groups read as one amount with thousands separators ("1.234.567",
    "12 500 000") or a list of years ("2019 2020 2021") rather than a phone number."""
    if len(groups) >= 2 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return True
    if len(groups) < 3 or len(set(separators)) != 1 or separators[0] not in (".", " ", "'"):
        return False
    thousands = 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
    return thousands and (len(groups[0]) <= 2 or groups[-1] == "000")


def is_postal_code(groups: list[str], separators: list[str]) -> bool:
    """Whether digit groups are written like a postal code: a US ZIP+4 (62704-1234) or a
    Brazilian CEP (01310-100)."""
    return separators == ["-"] and len(groups[0]) == 5 and len(groups[1]) in (3, 4)
