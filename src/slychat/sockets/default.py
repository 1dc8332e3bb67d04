"""The default namespace `/`, which admits nobody."""

from __future__ import annotations

from typing import Any

import socketio

from slychat.domain.errors import NotFound
from slychat.sockets.tokens import refusal


class DefaultNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """`/`: python-socketio admits it unless told otherwise, and a socket there would sit
    beside the real namespaces with no handler, holding a connection. Refused."""

    def __init__(self) -> None:
        super().__init__("/")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        raise refusal(NotFound("Connect to the /presence and /chat namespaces"))
