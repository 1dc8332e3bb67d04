"""schemathesis against a live server's /openapi.json: for generated valid requests to every
operation, no 5xx, and every response has a documented status, content type, headers and
a body matching its schema; for generated invalid requests, no 5xx. `make test` tries a
few dozen requests per operation and mode, `make soak` (the `slow` marker) many more."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from slychat.contracts.http_api import OPERATIONS
from slychat.contracts.openapi import Operation
from tests.support import ROOT, Server, next_id, token

# Routes of dev mode and the demo page are not served by the test server.
SERVED = [op for op in OPERATIONS if op.served_when is None]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _has_query_or_body(op: Operation) -> bool:
    """Invalid path parameters alone mostly make no URL at all; invalid queries and bodies
    are what a server must refuse."""
    in_path = set(re.findall(r"\{(\w+)\}", op.openapi_path))
    query = set(op.params.model_fields) - in_path if op.params else set()
    return bool(op.body or op.files or query)


CASES = [(op, GenerationMode.POSITIVE) for op in SERVED] + [
    (op, GenerationMode.NEGATIVE) for op in SERVED if _has_query_or_body(op)
]
_schemas: dict[str, Any] = {}
_keys: dict[str, str] = {}


def _schema(server: Server) -> Any:
    if server.url not in _schemas:
        _schemas[server.url] = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return _schemas[server.url]


def api_key(server: Server) -> str:
    """A key with every scope, made with `slychat apikey create` (shown once, last line)."""
    if server.url not in _keys:
        scopes = ["chats:read", "chats:write", "chats:export", "users:erase"]
        done = subprocess.run(
            [sys.executable, "-m", "slychat", "apikey", "create", "--name", "schemathesis"]
            + [arg for scope in scopes for arg in ("--scope", scope)],
            env=server.environment(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        _keys[server.url] = done.stdout.strip().splitlines()[-1]
    return _keys[server.url]


def _headers(server: Server, op: Operation) -> dict[str, str]:
    """Valid credentials, so that requests reach past the 401."""
    if "userJwt" in op.security:
        return {"Authorization": f"Bearer {token('customer', next_id())}"}
    if "apiKey" in op.security:
        return {"Authorization": f"Bearer {api_key(server)}"}
    return {}


@pytest.mark.parametrize(
    "examples",
    [pytest.param(25, id="bounded"), pytest.param(400, id="long", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize(
    ("op", "mode"), CASES, ids=[f"{o.method} {o.openapi_path} {m}" for o, m in CASES]
)
def test_responses_conform_to_the_document(
    server: Server, op: Operation, mode: GenerationMode, examples: int
) -> None:
    operation = _schema(server)[op.openapi_path][op.method]
    headers = _headers(server, op)
    # Invalid requests may miss the route altogether (the router's plain 404 or 405), so
    # for them only the absence of server errors is checked.
    checked = CHECKS if mode is GenerationMode.POSITIVE else [checks.not_a_server_error]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(mode))
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checked, timeout=30)

    conforms()
