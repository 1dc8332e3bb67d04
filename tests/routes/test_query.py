"""Query strings read as event payloads: only the named fields' digits become numbers."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request

from slychat.routes.query import query_payload


def _request(query: str) -> Request:
    encoded = quote(query, safe="=&").encode()
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": encoded})


def test_only_the_named_fields_digits_are_numbers() -> None:
    request = _request("limit=20&before=41&productId=7")
    assert query_payload(request, ("limit",)) == {"limit": 20, "before": "41", "productId": "7"}
    assert query_payload(request, ("limit", "before")) == {
        "limit": 20,
        "before": 41,
        "productId": "7",
    }


def test_what_is_not_a_plain_number_is_left_for_the_model() -> None:
    for raw in ("-1", "ten", "1e3", "٣", "1" * 19, ""):
        assert query_payload(_request(f"limit={raw}"), ("limit",)) == {"limit": raw}
    assert query_payload(_request("limit=" + "9" * 18), ("limit",)) == {"limit": 10**18 - 1}
