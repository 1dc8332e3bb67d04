"""How Socket.IO packets are written and read: orjson, and no search for binary values.

orjson writes the JSON of an outbound event several times faster than the standard
library. Reading tries orjson first and falls back to the standard library for what orjson
refuses but JSON allows (lone surrogate escapes, integers beyond 64 bits), so that such
input reaches validation and gets a clear `appError` instead of being dropped unread.

python-socketio walks every outbound payload looking for bytes to send as binary
attachments; slychat never sends bytes, so that walk is skipped. Inbound binary packets
are still read (and then refused by validation).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import socketio


class Json:
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
            return json.loads(text)


class Packet(socketio.packet.Packet):  # type: ignore[misc]
    json = Json
    uses_binary_events = False
