"""Both documents by name, and how they are written out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slychat.contracts import asyncapi, openapi
from slychat.contracts.http_api import OPERATIONS, WEBHOOKS


def openapi_document() -> dict[str, Any]:
    """Every route the app can serve, those of dev mode and the demo page included, and
    the webhooks it calls."""
    return openapi.document(OPERATIONS, WEBHOOKS)


DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "openapi": openapi_document,
    "asyncapi": asyncapi.document,
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
