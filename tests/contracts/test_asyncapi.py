"""The AsyncAPI document cannot drift from the code: every event the namespaces handle is
in it, each documented payload schema is the one of the model its handler validates
with, and docs/asyncapi.json is what the generator writes today."""

from __future__ import annotations

import inspect
import json
from typing import Any

import jsonschema
import pytest

from slychat.contracts import asyncapi
from slychat.contracts.asyncapi import ack_key, client_key, server_key
from slychat.contracts.components import REF
from slychat.contracts.documents import render
from slychat.sockets.base import Namespace
from slychat.sockets.chat import ChatNamespace
from slychat.sockets.presence import PresenceNamespace
from tests.support import IN_CI, ROOT

HANDLERS: dict[str, type[Namespace]] = {"/chat": ChatNamespace, "/presence": PresenceNamespace}
DOC = asyncapi.document()


def _channel(address: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [c for c in DOC["channels"].values() if c["address"] == address]
    (channel,) = matches
    return channel


def _message(key: str) -> dict[str, Any]:
    message: dict[str, Any] = DOC["components"]["messages"][key]
    return message


def _names(address: str, prefix: str) -> set[str]:
    keys = _channel(address)["messages"]
    return {_message(k)["name"] for k in keys if k.startswith(prefix)}


@pytest.mark.parametrize("address", sorted(HANDLERS))
def test_every_handled_event_is_documented_and_nothing_else(address: str) -> None:
    assert _names(address, "client.") == set(HANDLERS[address].events)
    assert _names(address, "ack.") == set(HANDLERS[address].events)


def test_every_channel_is_a_namespace_the_server_registers() -> None:
    assert {c["address"] for c in DOC["channels"].values()} == set(HANDLERS)


CLIENT_EVENTS = [(ns.address, event) for ns in asyncapi.NAMESPACES for event in ns.client]


@pytest.mark.parametrize(
    ("address", "event"), CLIENT_EVENTS, ids=[f"{a} {e.name}" for a, e in CLIENT_EVENTS]
)
def test_a_documented_payload_is_the_validating_models_schema(
    address: str, event: asyncapi.ClientEvent
) -> None:
    payload = _message(client_key(event.name))["payload"]
    assert payload == {"$ref": REF.format(model=event.payload.__name__)}
    schema = event.payload.model_json_schema(ref_template=REF)
    nested = schema.pop("$defs", {})
    components = DOC["components"]["schemas"]
    assert components[event.payload.__name__] == schema
    for name, definition in nested.items():
        assert components[name] == definition
    # The handler validates with this very model (a rename or a swap shows here).
    handler = getattr(HANDLERS[address], f"on_{event.name}")
    assert f"schemas.{event.payload.__name__}," in inspect.getsource(handler)


def test_every_operation_and_reference_resolves() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target: Any = DOC
                for part in ref.removeprefix("#/").split("/"):
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOC)
    for ns in asyncapi.NAMESPACES:
        for c in ns.client:
            op = DOC["operations"][f"{ns.key}.{c.name}"]
            assert op["action"] == "receive"
            assert op["reply"]["messages"] == [
                {"$ref": f"#/channels/{ns.key}/messages/{ack_key(c.name)}"}
            ]
        for s in ns.server:
            assert DOC["operations"][f"{ns.key}.{s.name}.emit"]["action"] == "send"
            assert server_key(s.name) in DOC["channels"][ns.key]["messages"]


@pytest.mark.parametrize("name", ["asyncapi", "openapi"])
def test_the_committed_documents_are_the_generated_ones(name: str) -> None:
    from slychat.contracts.documents import DOCUMENTS

    committed = (ROOT / "docs" / f"{name}.json").read_text(encoding="utf-8")
    assert committed == render(DOCUMENTS[name]()), (
        f"docs/{name}.json is out of date: run `python -m slychat.contracts write`"
    )


# The specifications' own JSON Schemas: AsyncAPI's from npm (@asyncapi/specs, installed
# by `make` with the demo page's packages), OpenAPI's from openapi-spec-validator.
ASYNCAPI_SPEC = ROOT / "web" / "node_modules" / "@asyncapi" / "specs" / "schemas"


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    spec_file = ASYNCAPI_SPEC / f"{DOC['asyncapi']}-without-$id.json"
    if not spec_file.is_file():
        assert not IN_CI, "make installs @asyncapi/specs (web/package.json); CI runs make"
        pytest.skip("web/node_modules/@asyncapi/specs is not installed (npm ci in web/)")
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(spec)(spec)
    assert [e.message for e in validator.iter_errors(DOC)] == []
    broken = DOC | {"channels": DOC["channels"] | {"chat": {"address": 7}}}
    assert list(validator.iter_errors(broken))  # the check can fail


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    from slychat.contracts.documents import openapi_document

    validate(openapi_document())
