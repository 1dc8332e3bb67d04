"""Reading packets: what no JSON parser follows still reaches the namespace as an event
that is refused with an appError, instead of failing inside the Socket.IO layer."""

from __future__ import annotations

from slychat.transport.codec import UNREADABLE, Json


def test_json_nested_beyond_any_parser_reads_as_unreadable() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert Json.loads(deep) == [UNREADABLE]


def test_json_that_orjson_refuses_but_json_allows_is_read() -> None:
    assert Json.loads('["e", "\\ud800"]') == ["e", "\ud800"]  # a lone surrogate


def test_not_json_reads_as_unreadable() -> None:
    assert Json.loads("[1, 2") == [UNREADABLE]
