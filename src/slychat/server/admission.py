"""Who may open an engine.io connection, decided before the server keeps anything of it:
the process's connection cap, and handshake attempts per client address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from slychat.domain.errors import AppError, RateLimited, Unavailable
from slychat.protocol import outbound as wire
from slychat.services.limits import Limits

_PHRASES = {429: "Too Many Requests", 503: "Service Unavailable"}


class Admission:
    def __init__(self, limits: Limits, max_connections: int, ip_header: str | None) -> None:
        self.limits = limits
        self.max_connections = max_connections
        # The WSGI-style environ key of the header a trusted proxy writes the address in.
        self.ip_key = None if ip_header is None else "HTTP_" + ip_header.upper().replace("-", "_")

    async def refusal(self, environ: Mapping[str, Any], open_now: int) -> AppError | None:
        """Why a new connection is refused (`open_now` are open in this process), if it is."""
        if open_now >= self.max_connections:
            return Unavailable("The server is at capacity, please retry later")
        try:
            await self.limits.handshake(self.client_address(environ))
        except RateLimited as exc:
            return exc
        return None

    def client_address(self, environ: Mapping[str, Any]) -> str:
        """The client's address: from the proxy's header when one is configured (its last
        entry, the one the proxy itself appended: earlier ones are whatever the client
        sent), else the TCP peer."""
        if self.ip_key is not None:
            forwarded = str(environ.get(self.ip_key, "")).rsplit(",", 1)[-1].strip()
            if forwarded:
                return forwarded
        peer = environ.get("asgi.scope", {}).get("client")
        return str(peer[0]) if peer else "unknown"


def response(refusal: AppError) -> tuple[str, list[tuple[str, str]], bytes]:
    """The HTTP status line, headers and body that refuse a handshake."""
    status = refusal.status_code
    headers = [("Content-Type", "application/json")]
    retry_after = wire.retry_after(refusal)
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return f"{status} {_PHRASES.get(status, 'Error')}", headers, orjson.dumps(wire.error(refusal))
