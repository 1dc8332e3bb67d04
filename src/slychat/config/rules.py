"""Checks of single settings, so that a wrong value stops the process at start with a
message naming it, instead of failing later on the first request that uses it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import jwt

from slychat.domain import web_urls

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
TRANSPORTS = ("polling", "websocket")
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
REDIS_SCHEMES = ("redis", "rediss", "unix")
ASYMMETRIC = ("RS", "PS", "ES", "Ed")  # JWT algorithms verified with a public key
# RFC 9110 field-name (a token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}")


def http_url(value: str | None) -> str | None:
    """An absolute http(s) URL with a host (or unset), plain as `web_urls.parse` wants it:
    browsers and slychat then agree on where it leads."""
    if value is None:
        return None
    if web_urls.parse(value) is None:
        raise ValueError("must be a plain absolute http(s) URL, e.g. https://chat.example.com")
    return value


def origins(value: list[str]) -> list[str]:
    """CORS origins: `*`, or `scheme://host[:port]` without a path; each as browsers send
    it in `Origin` (lower case, no default port), since that is what it is compared with."""
    found = []
    for origin in value:
        url = None if origin == "*" else web_urls.parse(origin)
        if origin != "*" and (url is None or url.pathname != "/" or url.search or url.hash):
            raise ValueError(
                f"{origin!r} is not an origin: use * or scheme://host[:port], "
                "e.g. https://shop.example.com"
            )
        found.append(origin if url is None else url.origin)
    return found


def transports(value: list[str]) -> list[str]:
    """Engine.io transports: a non-empty subset of polling and websocket."""
    unknown = [t for t in value if t not in TRANSPORTS]
    if unknown or not value:
        raise ValueError(f"must be one or both of {', '.join(TRANSPORTS)}")
    return value


def log_level(value: str) -> str:
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def database_url(value: str) -> str:
    """A URL of a database slychat runs on (after `normalize_database_url`)."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in DATABASE_SCHEMES:
        raise ValueError(
            "must be a sqlite:// or postgresql:// URL "
            "(e.g. postgresql://user:password@host:5432/slychat)"
        )
    return value


def redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    if urlsplit(value).scheme not in REDIS_SCHEMES:
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


def header_name(value: str | None) -> str | None:
    if value is not None and not _HEADER_NAME.fullmatch(value):
        raise ValueError("must be an HTTP header name, e.g. X-Real-IP")
    return value


def host_names(value: list[str]) -> list[str]:
    """Host names written as browsers write them (so that a URL's host can equal one)."""
    for host in value:
        if not _HOST_NAME.fullmatch(host) or web_urls.host_name(host) is None:
            raise ValueError(f"{host!r} is not a host name (e.g. cdn.example.com)")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def jwt_algorithms(value: list[str]) -> list[str]:
    """Algorithms PyJWT knows; `none` is never accepted."""
    known = set(jwt.algorithms.get_default_algorithms()) - {"none"}
    unknown = [a for a in value if a not in known]
    if unknown or not value:
        raise ValueError(f"unknown or refused: {', '.join(unknown) or '(none given)'}")
    return value


def public_key(value: str | None) -> str | None:
    """A PEM (or OpenSSH) public key; never a private key."""
    if value is None or not value.strip():
        return None
    if "PRIVATE KEY" in value:
        raise ValueError("is a private key: give the public key only")
    if "-----BEGIN" not in value and not value.startswith(("ssh-", "ecdsa-")):
        raise ValueError("must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
    return value


def key_problems(algorithms: list[str], secret: str | None, key: str | None) -> list[str]:
    """Why the configured algorithms cannot verify tokens with the configured keys."""
    asymmetric = [a for a in algorithms if a.startswith(ASYMMETRIC)]
    shared = [a for a in algorithms if not a.startswith(ASYMMETRIC)]
    problems = []
    if asymmetric and not key:
        problems.append(
            f"SLYCHAT_JWT_ALGORITHMS: {', '.join(asymmetric)} needs SLYCHAT_JWT_PUBLIC_KEY"
        )
    if key and not asymmetric:
        problems.append(
            "SLYCHAT_JWT_PUBLIC_KEY is set but SLYCHAT_JWT_ALGORITHMS has no public-key "
            "algorithm (e.g. RS256)"
        )
    if shared and key and not secret:
        problems.append(f"SLYCHAT_JWT_ALGORITHMS: {', '.join(shared)} needs SLYCHAT_JWT_SECRET")
    return problems
