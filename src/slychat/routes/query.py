"""A request's query as the payload of the socket event its route mirrors: the one
reading of query strings that the JSON routes share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request

_FLAGS = {"true": True, "false": False}


def query_payload(
    request: Request, numbers: Collection[str], flags: Collection[str] = ()
) -> dict[str, Any]:
    """The query's fields; the digit strings of `numbers` read as the numbers a socket
    event carries there (up to 18 digits: they always fit the 64-bit `limit` or `seq`
    they stand for), and `true` or `false` in `flags` as booleans. Anything else is left
    for the route's model to refuse: it holds the route's own limits."""
    query: dict[str, Any] = dict(request.query_params)
    for name in flags:
        value = query.get(name)
        if isinstance(value, str) and value in _FLAGS:
            query[name] = _FLAGS[value]
    for name in numbers:
        value = query.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            query[name] = int(value)
    return query
