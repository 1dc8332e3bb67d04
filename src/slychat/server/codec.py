"""How Socket.IO packets are written and read: orjson, and no search for binary values.

orjson writes the JSON of an outbound event several times faster than the standard
library. Reading tries orjson first and falls back to the standard library for what orjson
refuses but JSON allows (lone surrogate escapes, integers beyond 64 bits), so that such
input reaches validation and gets a clear `appError` instead of being dropped unread.
What is not JSON at all raises `ValueError`: a packet the protocol does not allow, whose
connection the server closes (server/engine.py).

python-socketio walks every outbound payload looking for bytes to send as binary
attachments; slychat never sends bytes, so that walk is skipped. Inbound binary packets
are still read (and then refused by validation).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import socketio

UNREADABLE = "\x00unreadable"  # no client can name an event this: NUL is refused


class JsonModule:
    """The `json` module interface python-socketio calls."""

    @staticmethod
    def dumps(obj: Any, **_options: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # e.g. an integer beyond 64 bits
            return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(text)
        except RecursionError:
            # JSON nested deeper than any parser follows: the packet still reaches the
            # namespace (its ack id is read before the JSON), as an event that is refused
            # with a clear appError.
            return [UNREADABLE]


class Packet(socketio.packet.Packet):  # type: ignore[misc]
    json = JsonModule
    uses_binary_events = False
