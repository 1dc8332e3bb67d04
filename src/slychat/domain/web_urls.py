"""URLs as browsers read them. Browsers parse by the WHATWG URL standard (here through ada,
the parser Node.js uses), which disagrees with Python's `urlsplit` on backslashes, tabs
inside a URL, percent-encoded or full-width dots, IPv4 shorthand and more: a host checked
with one parser and fetched with the other is no check at all. So a URL slychat vets is
accepted only when it is plain, and both parsers agree on its host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import ada_url

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Host names as they reach a header or a policy: DNS labels, IPv4, or a bracketed IPv6.
_PLAIN_HOST = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")


@dataclass(frozen=True, slots=True)
class WebUrl:
    """A plain http(s) URL, as a browser reads it."""

    scheme: str  # "http" or "https"
    hostname: str  # lower case; an IDN in its xn-- form; IPv6 in brackets
    host: str  # hostname[:port], the port only when it is not the scheme's default
    origin: str  # scheme://host
    pathname: str
    search: str
    hash: str

    def is_on(self, hosts: Iterable[str]) -> bool:
        """Whether the host is one of `hosts` (lower-case names) or a subdomain of one."""
        return any(self.hostname == h or self.hostname.endswith("." + h) for h in hosts)


def parse(value: str) -> WebUrl | None:
    """`value` as browsers read it, or None unless it is a plain absolute http(s) URL: no
    backslash, whitespace, control or other invisible character anywhere, no user name or
    password, and its host and port written just as browsers read them, but for letter
    case and the default port (no percent-escapes, Unicode, IPv4 shorthand or any other
    spelling), so that Python, browsers and a person reading it agree on where it leads."""
    if not value or "\\" in value or any(c.isspace() or not c.isprintable() for c in value):
        return None
    try:
        url = ada_url.URL(value)
        written = urlsplit(value).netloc  # host[:port] as it stands in `value`
    except ValueError:  # not a URL to either parser (a UnicodeError is one too)
        return None
    if not written.isascii():  # a host in Unicode (which lower-casing might even hide)
        return None
    written = written.lower()
    scheme = url.protocol.removesuffix(":")
    if scheme not in _DEFAULT_PORTS or url.username or url.password:
        return None
    if not _PLAIN_HOST.fullmatch(url.hostname) or written not in (
        url.host,
        f"{url.hostname}:{_DEFAULT_PORTS[scheme]}",
    ):
        return None
    return WebUrl(
        scheme=scheme,
        hostname=url.hostname,
        host=url.host,
        origin=url.origin,
        pathname=url.pathname,
        search=url.search,
        hash=url.hash,
    )


def authority(host: str, scheme: str = "http") -> WebUrl | None:
    """A `host[:port]` (a Host header) as the root URL it names, or None if it is more or
    other than that."""
    url = parse(f"{scheme}://{host}/")
    plain = url is not None and url.pathname == "/" and not url.search and not url.hash
    return url if plain else None


def host_name(name: str) -> str | None:
    """`name` in lower case, if browsers would fetch a URL on it from exactly that host
    (`cdn.example.com`; not `127.1`, `bücher.de` or `a%2eb`), else None."""
    url = authority(name)
    return url.hostname if url is not None and url.hostname == name.lower() else None
