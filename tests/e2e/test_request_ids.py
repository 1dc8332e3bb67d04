"""Every HTTP request has an id: the client's own when it is short and plain, else one of
the server's; echoed in `X-Request-Id` and carried by the request's log line."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from tests.support import Server

GENERATED = re.compile(r"[0-9a-f]{16}")


async def _request_id(server: Server, sent: str | None) -> str:
    headers = {} if sent is None else {"X-Request-Id": sent}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/healthz", headers=headers) as response,
    ):
        assert response.status == 200
        return response.headers["X-Request-Id"]


def _logged_ids(server: Server) -> set[str]:
    assert server.log_path is not None
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    return {line["request_id"] for line in lines if line["logger"] == "uvicorn.access"}


async def test_a_plain_incoming_id_is_kept_and_logged(server: Server) -> None:
    sent = "lb-0a1b2c3d.4e5f_6"
    assert await _request_id(server, sent) == sent
    assert sent in _logged_ids(server)


@pytest.mark.parametrize(
    "sent",
    [None, "", "x" * 65, "id with spaces", 'quote"d', "line\tbreak", "ünïcode"],
    ids=["none", "empty", "too-long", "spaces", "quote", "tab", "non-ascii"],
)
async def test_a_missing_or_unsafe_id_is_replaced(server: Server, sent: str | None) -> None:
    first = await _request_id(server, sent)
    second = await _request_id(server, sent)
    assert GENERATED.fullmatch(first), first
    assert first != second  # one per request
    assert {first, second} <= _logged_ids(server)
