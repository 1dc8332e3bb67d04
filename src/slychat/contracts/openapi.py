"""The OpenAPI 3.1 document, built from one `Operation` per HTTP route.

An operation names its route exactly as the route declares it (method and Starlette path),
its parameters and body as pydantic models, and its responses as envelope models, so the
document is generated, never written by hand. tests/e2e/test_contracts.py walks the app's
routes and fails on any route without its operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel

from slychat.contracts.components import Components, without_null
from slychat.protocol.envelopes import Error
from slychat.protocol.types import Json

_CONVERTER = re.compile(r"\{(\w+):\w+\}")
_PARAM = re.compile(r"\{(\w+)\}")
_DECLARED = re.compile(r"\{(\w+)(?::(\w+))?\}")
# What the router lets into a path parameter, by Starlette convertor: a value outside it
# never reaches the route (the router's own plain-text 404), so the document excludes it.
# Dot segments are excluded too: clients normalise them away before sending.
_CONVERTOR_PATTERNS = {
    "str": r"^(?!\.{1,2}$)[^/]+$",
    "path": r"^(?![^\n]*\n)(?!(.*/)?\.{1,2}(/.*)?$).+$",
}

SECURITY_SCHEMES: Json = {
    "userJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The user's JWT (the token the Socket.IO handshake takes), as "
        "`Authorization: Bearer <token>`; customers and vendors only.",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the server-to-server API (`slychat apikey create`), "
        "as `Authorization: Bearer slyk_...`; each key carries scopes.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "The same API key in a header of its own.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "SLYCHAT_METRICS_TOKEN, when set.",
    },
}

_ERROR_MEANINGS = {
    400: "Invalid input",
    401: "No token, or a bad, expired or revoked one",
    403: "The caller may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    429: "Over a rate limit (retryAfter, and a Retry-After header)",
    500: "Internal error",
    503: "A dependency is unavailable",
}


@dataclass(frozen=True)
class Reply:
    """One response: a JSON body of `model`, or content of `media_types` (unstructured)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_types: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()


def errors(*statuses: int) -> tuple[Reply, ...]:
    """The error object under each status."""
    return tuple(
        Reply(
            s,
            _ERROR_MEANINGS[s],
            Error,
            headers=("Retry-After",) if s == 429 else (),
        )
        for s in statuses
    )


@dataclass(frozen=True)
class Operation:
    """One HTTP route's contract. `params`: a model whose fields named in the path are path
    parameters and the others query parameters. `files`: a multipart body carrying files
    besides `body`'s fields. `served_when`: the setting the route depends on, if any."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    description: str = ""
    params: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    files: str | None = None
    security: tuple[str, ...] = ()
    security_optional: bool = False
    served_when: str | None = None
    extra: Json = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def openapi_path(self) -> str:
        return _CONVERTER.sub(r"{\1}", self.path)


@dataclass(frozen=True)
class Webhook:
    """A call the server makes to the platform's SLYCHAT_WEBHOOK_URL: a signed POST of
    `model`, listed under the document's top-level `webhooks` (OpenAPI 3.1)."""

    event: str
    summary: str
    model: type[BaseModel]


def document(operations: Iterable[Operation], webhooks: Iterable[Webhook] = ()) -> Json:
    """The OpenAPI 3.1 document of `operations` and `webhooks`."""
    components = Components()
    paths: Json = {}
    for op in sorted(operations, key=lambda o: o.key):
        item = paths.setdefault(op.openapi_path, {})
        item[op.method.lower()] = _operation(op, components)
    hooks = {hook.event: {"post": _webhook(hook, components)} for hook in webhooks}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "slychat HTTP API",
            "version": version("slychat"),
            "description": "The HTTP routes of a slychat server. The real-time protocol "
            "(Socket.IO) is described by the AsyncAPI document at /asyncapi.json.",
        },
        "paths": paths,
        **({"webhooks": hooks} if hooks else {}),
        "components": {"schemas": components.sorted(), "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(op: Operation, components: Components) -> Json:
    out: Json = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    description = op.description
    if op.served_when:
        description = f"{description}\n\nServed only {op.served_when}.".strip()
    if description:
        out["description"] = description
    parameters = _parameters(op, components)
    if parameters:
        out["parameters"] = parameters
    body = _body(op, components)
    if body:
        out["requestBody"] = body
    out["responses"] = {str(r.status): _response(r, components) for r in op.replies}
    if op.security:
        required: list[Json] = [{name: []} for name in op.security]
        out["security"] = [{}, *required] if op.security_optional else required
    else:
        out["security"] = []
    if op.served_when:
        out["x-served-when"] = op.served_when
    return out | op.extra


def _webhook(hook: Webhook, components: Components) -> Json:
    return {
        "operationId": "webhook_" + hook.event.replace(".", "_"),
        "summary": hook.summary,
        "description": "Sent when SLYCHAT_WEBHOOK_URL is set, at least once: a retry "
        "carries the same body and Webhook-Id, newly timestamped and signed "
        "(docs/webhooks.md).",
        "tags": ["webhooks"],
        "parameters": [
            {"name": name, "in": "header", "required": True} | spec
            for name, spec in _WEBHOOK_HEADERS.items()
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": components.ref(hook.model)}},
        },
        "responses": {
            "2XX": {
                "description": "Received. Any other status, or no answer within "
                "SLYCHAT_WEBHOOK_TIMEOUT, is retried with backoff for SLYCHAT_WEBHOOK_RETRY_FOR"
            }
        },
        "security": [],
    }


_WEBHOOK_HEADERS: dict[str, Json] = {
    "Webhook-Id": {
        "description": "The event's id (the body's `id`): the same on every attempt",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
    },
    "Webhook-Timestamp": {
        "description": "When this attempt was signed, in Unix seconds",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Webhook-Signature": {
        "description": "`v1=` and the hex HMAC-SHA256, keyed with SLYCHAT_WEBHOOK_SECRET, "
        "of the timestamp, a `.` and the raw body",
        "schema": {"type": "string", "pattern": "^v1=[0-9a-f]{64}$"},
    },
}


def _parameters(op: Operation, components: Components) -> list[Json]:
    if op.params is None:
        return []
    in_path = set(_PARAM.findall(op.openapi_path))
    convertors = {name: kind or "str" for name, kind in _DECLARED.findall(op.path)}
    schema = components.inline(op.params)
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema.get("properties", {}).items():
        where = "path" if name in in_path else "query"
        param: Json = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": without_null(prop),
        }
        if where == "path" and param["schema"].get("type") == "string":
            param["schema"].setdefault("pattern", _CONVERTOR_PATTERNS[convertors[name]])
        if "description" in prop:
            param["description"] = prop["description"]
        found.append(param)
    missing = in_path - {p["name"] for p in found}
    if missing:
        raise ValueError(f"{op.path}: {sorted(missing)} not in {op.params.__name__}")
    return found


def _body(op: Operation, components: Components) -> Json | None:
    if op.files is not None:
        schema: Json = {"type": "object", "properties": {}, "required": ["files"]}
        if op.body is not None:
            fields = components.inline(op.body)
            schema["properties"] = {
                name: without_null(prop) for name, prop in fields.get("properties", {}).items()
            }
            schema["required"] = [*fields.get("required", ()), "files"]
        schema["properties"]["files"] = {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "format": "binary"},
            "description": op.files,
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if op.body is not None:
        content = {"application/json": {"schema": components.ref(op.body)}}
        return {"required": True, "content": content}
    return None


def _response(reply: Reply, components: Components) -> Json:
    out: Json = {"description": reply.description}
    if reply.model is not None:
        out["content"] = {"application/json": {"schema": components.ref(reply.model)}}
    elif reply.media_types:
        out["content"] = {kind: {"schema": _unstructured(kind)} for kind in reply.media_types}
    if reply.headers:
        out["headers"] = {name: _HEADERS[name] for name in reply.headers}
    return out


def _unstructured(media_type: str) -> Json:
    if media_type.endswith("json"):
        return {"type": "object"}
    if media_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Location": {"description": "Where the file is", "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
}
