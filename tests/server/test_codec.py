"""Reading packets: JSON nested beyond what any parser follows still reaches the namespace
as an event that is refused with an appError; what is not JSON is not a packet at all."""

from __future__ import annotations

import json

import pytest

from slychat.server.codec import UNREADABLE, JsonModule


def test_json_nested_beyond_any_parser_reads_as_unreadable() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert JsonModule.loads(deep) == [UNREADABLE]


def test_json_that_orjson_refuses_but_json_allows_is_read() -> None:
    assert JsonModule.loads('["e", "\\ud800"]') == ["e", "\ud800"]  # a lone surrogate


def test_not_json_is_refused_as_a_packet_the_protocol_does_not_allow() -> None:
    with pytest.raises(json.JSONDecodeError):
        JsonModule.loads("[1, 2")
