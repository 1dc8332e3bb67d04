"""Security headers shared by the server's own pages and static files (the demo page and
the API docs), and the wrapper that puts fixed headers on a static-files app."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    # Small files that change with the code: revalidated (ETag) on every load.
    "Cache-Control": "no-cache",
}
# What the pages' own files (scripts, styles, product pictures) may do: nothing.
ASSET_HEADERS = COMMON_HEADERS | {"Content-Security-Policy": "default-src 'none'; sandbox"}


class WithHeaders:
    """Adds fixed headers to every response of the wrapped app (the static files)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = {name for name, _ in self.raw}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self.raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
