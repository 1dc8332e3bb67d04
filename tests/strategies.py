"""Hypothesis strategies of hostile input, shared by the fuzz tests (events on a live server,
HTTP routes, schemas, tokens, cursors): strings of the whole of Unicode, numbers of every
size and type, and values shaped like each field's real ones with hostile parts inside.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

# Every code point, lone surrogates (category Cs) included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())

# Characters that have broken parsers, databases and displays before.
SPECIAL_CHARS = [
    "\x00",  # NUL: PostgreSQL text cannot hold it
    "\ud800",  # lone surrogates: not UTF-8
    "\udfff",
    "\U0001f600",  # astral: two UTF-16 units, four UTF-8 bytes
    "\U0010ffff",
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u2066",  # left-to-right isolate
    "\u0301",  # a combining mark with nothing to combine with
    "e\u0301",  # é as two code points
    "\u200b",  # zero width space
    "\u200d",  # zero width joiner
    "\ufeff",  # byte order mark
    "\u2028",  # line separator
    "\u3000",  # ideographic space
    "\u3002",  # ideographic full stop (a dot to URL parsers)
    "\uff0e",  # fullwidth full stop
    "\u0661",  # Arabic-Indic digit one: int() reads it
    "\u00b2",  # superscript two: str.isdigit() says yes, int() says no
    "\u0131",  # dotless i: its upper case is I ("adm\u0131n".upper() == "ADMIN")
    "\u017f",  # long s: its upper case is S
    "\u212a",  # Kelvin sign: its lower case is k
    "\\",
    "%",
    "\t",
    "\r\n",
    "\x7f",
    "\x85",
]
SPECIAL_TEXT = [
    *SPECIAL_CHARS,
    "",
    " ",
    "null",
    "-0",
    "1e999",
    "NaN",
    "javascript:alert(1)",
    "\u202egnp.exe",
    "adm\u0131n",
    "cu\u017ftomer",
    "ü" * 6000,
    "\U0001f600" * 3000,
    "a\u0301" * 100,
    "9" * 5000,
]
HOSTILE_TEXT = (
    st.text(alphabet=ANY_CHAR, max_size=64)
    | st.sampled_from(SPECIAL_TEXT)
    | st.lists(st.sampled_from(SPECIAL_CHARS) | st.text(max_size=4), max_size=8).map("".join)
)

# Numbers: huge and negative, at and around the edges of 32, 53, 63 and 64 bits; floats;
# booleans (a JSON true is no 1); and digit strings where integers are expected.
EDGES = [2**31, 2**53, 2**63, 2**64, 10**30]
EDGE_INTEGERS = st.sampled_from(
    [0, 1, -1, *EDGES, *(e - 1 for e in EDGES), *(-e for e in EDGES), -(2**63) - 1]
)
INTEGERS = st.integers(min_value=-(2**80), max_value=2**80) | EDGE_INTEGERS
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.5, 1.0, -0.0, 1e300, -1e300, 2.0**63, 5e-324]
)
DIGIT_STRINGS = INTEGERS.map(str) | st.sampled_from(
    [" 7 ", "+7", "07", "7.0", "1e3", "0x10", "1_000", "\u0661\u0662", "\u00b2", "9" * 5000]
)
HOSTILE_NUMBERS = INTEGERS | FLOATS | st.booleans() | DIGIT_STRINGS

SCALARS = st.none() | st.booleans() | INTEGERS | FLOATS | HOSTILE_TEXT


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value (objects keyed by hostile text), nested a few levels."""
    return st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _b64(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# What a sync cursor looks like (`v1.<base64 payload>.<mac>`), with hostile parts: the
# payload's numbers of any kind, a mac of any text.
CURSOR_PAYLOADS = st.builds(
    lambda role, *numbers: ":".join([role, *map(str, numbers)]),
    st.sampled_from(["CUSTOMER", "VENDOR", "ADMIN"]) | HOSTILE_TEXT,
    HOSTILE_NUMBERS,
    HOSTILE_NUMBERS,
    HOSTILE_NUMBERS,
)
CURSORS = st.builds(
    lambda version, payload, mac: f"{version}.{payload}.{mac}",
    st.sampled_from(["v1", "v1", "v2", "", "v1\u0301"]),
    CURSOR_PAYLOADS.map(_b64) | HOSTILE_TEXT,
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789_-", min_size=22, max_size=22)
    | HOSTILE_TEXT,
)

# What an http(s) URL looks like, with hostile parts where parsers disagree.
URLS = st.builds(
    lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
    st.sampled_from(["https://", "http://", "HTTPS://", "https:", "http:\\\\", "javascript:"]),
    st.sampled_from(["", "", "u:p@", "@"]),
    st.sampled_from(["example.com", "evil.com\\.example.com", "0x7f.1", "[::1]", "ex%2eample"])
    | HOSTILE_TEXT,
    st.sampled_from(["", ":443", ":99999", ":"]),
    st.sampled_from(["/p.png", "", "?x", "#y"]) | HOSTILE_TEXT.map(lambda t: "/" + t),
)

# Ids: 24 hex characters (what the server issues), and near misses.
IDS = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24) | st.builds(
    lambda base, noise: base[:12] + noise + base[12:],
    st.just("6b056235102b2bc44fbb2c87"),
    HOSTILE_TEXT,
)
