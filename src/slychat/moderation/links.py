"""Links: URLs with a scheme, "www." addresses, and bare domains under a real public
suffix ("shop.example.co.uk/item", "mysite dot com"), except the allowed hosts. A link to
a messenger (wa.me, t.me, instagram.com...) is reported as a messenger contact."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from slychat.moderation.domains import LABEL, PROSE, SPELLED_DOT, is_allowed, registrable
from slychat.moderation.keywords import word_set
from slychat.moderation.spans import Kind

MESSENGER_HOSTS = word_set(
    "wa.me whatsapp.com t.me telegram.me telegram.org telegram.dog m.me messenger.com"
    " instagram.com instagr.am facebook.com fb.com fb.me snapchat.com signal.me signal.group"
    " line.me viber.com discord.gg discord.com tiktok.com twitter.com x.com kik.me wechat.com"
    " threads.net skype.com vk.com vk.me ok.ru"
)
MESSENGER_SCHEMES = word_set("whatsapp tg viber skype signal sgnl weixin line fb-messenger")
# File names that end like a top-level domain: "photos.zip", "clip.mov", "script.py".
_FILE_SUFFIXES = frozenset({"zip", "mov", "py", "md"})
# Bare domains whose suffix is written with a capital ("Great.Love it", "Yes.No") are
# sentences typed without a space; these suffixes are links even then.
_ALWAYS_SUFFIXES = frozenset({"com", "net", "org"})

_SCHEME_URL = re.compile(
    r"(?<![\w.+\-])(?P<scheme>[a-z][a-z0-9+.\-]{1,15}):(?://)?[^\s<>\"'`]+", re.I
)
_WWW_URL = re.compile(r"(?<![\w.\-])www\d{0,3}\.[^\s<>\"'`]+", re.I)
_BARE = re.compile(
    rf"(?<![\w.\-@/])(?P<host>{LABEL}(?:\.{LABEL}){{1,30}})(?P<rest>[:/?#][^\s<>\"'`]*)?(?![\w@])"
)
_SPELLED = re.compile(
    rf"(?<![\w.\-@])(?P<host>{LABEL}(?:(?:{SPELLED_DOT}|\.){LABEL}){{1,30}})(?![\w@])", re.I
)
_SPELLED_DOTS = re.compile(SPELLED_DOT, re.I)
_TRAILING = ".,;:!?)]}'\"»…"
_HOST_OF_URL = re.compile(
    r"^(?:[a-z][a-z0-9+.\-]*:(?://)?)?(?:[^@/?#\s]*@)?(?P<host>[^:/?#\s]+)", re.I
)


@dataclass(frozen=True)
class Link:
    start: int
    end: int
    kind: Kind


def _trim(text: str, start: int, end: int) -> int:
    """The end of a link without the sentence's punctuation after it."""
    while end > start and text[end - 1] in _TRAILING:
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break  # a bracket that belongs to the URL: /wiki/Foo_(bar)
        end -= 1
    return end


def _kind(host: str) -> Kind:
    host = host.lower()
    while host:
        if host in MESSENGER_HOSTS:
            return Kind.MESSENGER
        host = host.partition(".")[2]
    return Kind.URL


def find_links(text: str, allowed: frozenset[str]) -> list[Link]:
    """Links in normalised `text`, less those to allowed hosts."""
    found: list[Link] = []
    taken: list[tuple[int, int]] = []  # sorted, none overlapping another

    def add(start: int, end: int, host: str, kind: Kind | None = None) -> None:
        # An allowed link is taken too: no bare domain is read inside it.
        if not is_allowed(host, allowed):
            found.append(Link(start, end, kind or _kind(host)))
        bisect.insort(taken, (start, end))

    def free(start: int, end: int) -> bool:
        at = bisect.bisect_left(taken, (start, end))
        before = taken[at - 1] if at else None
        after = taken[at] if at < len(taken) else None
        return (before is None or before[1] <= start) and (after is None or after[0] >= end)

    # Each kind is looked for only where its sign is: most texts have none of them.
    for match in _SCHEME_URL.finditer(text) if ":" in text else ():
        scheme = match.group("scheme").lower()
        end = _trim(text, match.start(), match.end())
        url = text[match.start() : end]
        if scheme in MESSENGER_SCHEMES:
            add(match.start(), end, "", Kind.MESSENGER)
        elif "://" in url and scheme in ("http", "https", "ftp", "ftps", "ws", "wss"):
            host = _HOST_OF_URL.match(url)
            add(match.start(), end, host.group("host") if host else "")
    dotted = "." in text
    for match in _WWW_URL.finditer(text) if dotted else ():
        if free(match.start(), match.end()):
            end = _trim(text, match.start(), match.end())
            www = _HOST_OF_URL.match(text[match.start() : end])
            add(match.start(), end, www.group("host") if www else "")
    for match in _BARE.finditer(text) if dotted else ():
        if not free(match.start(), match.end()):
            continue
        bare = match.group("host")
        parts = registrable(bare)
        if parts is None or not _bare_domain(bare, parts[1], match.group("rest")):
            continue
        add(match.start(), _trim(text, match.start(), match.end()), bare)
    spelled_dot = _SPELLED_DOTS.search(text) is not None
    for match in _SPELLED.finditer(text) if spelled_dot else ():
        if not free(match.start(), match.end()) or _SPELLED_DOTS.search(match.group()) is None:
            continue
        spelled = _SPELLED_DOTS.sub(".", match.group("host"))
        parts = registrable(spelled)
        if parts is not None and parts[1].isascii() and spelled.split(".")[0].lower() not in PROSE:
            add(match.start(), match.end(), spelled)
    return found


def _bare_domain(host: str, suffix: str, rest: str | None) -> bool:
    """Whether a host written without scheme is meant as a link rather than words."""
    if rest:
        return True  # a path, a port or a query: "example.com/item"
    written = host[len(host) - len(suffix) :]
    if suffix.lower() in _FILE_SUFFIXES:
        return False
    if written[:1].isupper() and written[1:].islower() and suffix not in _ALWAYS_SUFFIXES:
        return False
    return not host[: len(host) - len(suffix)].rstrip(".").isdigit()
