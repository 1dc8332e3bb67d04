"""Host names: whether a string is a registrable domain under a real public suffix, read
with tldextract from the Public Suffix List bundled in its package (never fetched)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import tldextract

from slychat.moderation.keywords import word_set

# The words people write in place of a dot: "name at gmail dot com", "site(dot)com".
DOT_WORDS = ("dot", "punto", "point", "punkt", "ponto", "точка", "nokta")
# One label of a host name: letters, digits and inner hyphens, at most 63 characters.
LABEL = r"[^\W_](?:[\w\-]{0,61}[^\W_])?"
_DOT_WORDS = "|".join(DOT_WORDS)
# A dot written around filters: "site . com", "site(dot)com", "site [.] com", "site dot com".
SPELLED_DOT = (
    rf"(?:\s+\.\s+|\s*[(\[{{<]\s*(?:\.|{_DOT_WORDS})\s*[)\]}}>]\s*|\s+(?:{_DOT_WORDS})\s+)"
)
# Words of prose around "at" and "dot" ("I'll be at the dot com conference"): never the
# name or the domain of an address or a link spelled out with words.
PROSE = word_set(
    "a an the this that these those my your our his her their its me us you him them it i we"
    " they be is are was were am been here there home work look looking meet see stay arrive"
    " good best bad great all one"
)


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # No suffix list URLs and no cache directory: the snapshot shipped with the package is
    # read once, and nothing is fetched or written at run time.
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def registrable(host: str) -> tuple[str, str] | None:
    """(domain, public suffix) of a host name such as "shop.example.co.uk", or None when
    it has no real public suffix ("e.g", "hello.thanks") or nothing before it."""
    parts = _extractor()(host.lower().strip("."))
    if not parts.suffix or not parts.domain:
        return None
    return parts.domain, parts.suffix


def is_allowed(host: str, allowed: frozenset[str]) -> bool:
    """Whether `host` is one of the allowed hosts or a subdomain of one."""
    host = host.lower().rstrip(".")
    while True:
        if host in allowed:
            return True
        _, dot, rest = host.partition(".")
        if not dot:
            return False
        host = rest


def normalize_hosts(hosts: Iterable[str] | str) -> frozenset[str]:
    """Allowed hosts as settings give them ("Example.com, .shop.example.net", or a list) in
    the form `is_allowed` compares."""
    items = hosts.split(",") if isinstance(hosts, str) else hosts
    cleaned = (host.strip().lower().strip(".") for host in items)
    return frozenset(host for host in cleaned if host)
