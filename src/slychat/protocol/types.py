"""Types the wire contract shares: a JSON object, and the lookups an outbound shape needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slychat.domain.models import Message

Json = dict[str, Any]  # a JSON object, as it is sent, received or documented
CursorOf = Callable[[Message], str | None]  # a message -> the viewer's syncCursor after it
UrlOf = Callable[[str], str]  # a media store key -> the URL clients fetch it at
