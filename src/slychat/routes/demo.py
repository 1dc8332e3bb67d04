"""The demo page: `/` is a customer's or a vendor's chat in the browser, its files are
under `/demo/`. Served in dev mode or with SLYCHAT_DEMO=1; otherwise `/` is a short page
pointing at the docs and `/demo/` does not exist.

Everything the page shows comes from other users (chat metadata, messages), so it is
served with a Content-Security-Policy that runs only this origin's scripts and styles
(no inline code at all), loads images only from here and from where media and product
images legitimately live, and connects only back to this server.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from slychat.config.settings import Settings
from slychat.domain import web_urls
from slychat.routes.page_headers import ASSET_HEADERS, COMMON_HEADERS, WithHeaders

STATIC = Path(__file__).resolve().parent.parent / "static" / "demo"
# The slychat-client package's browser bundle (clients/js), built and copied by `make`;
# absent without npm.
CLIENT_LIBRARY = STATIC / "dist" / "slychat-client.js"

# Only characters a host name is made of: anything else in a configured name must not
# reach a header as policy syntax. (URLs and the Host header go through web_urls, whose
# plain hosts are made of these too.)
_HOST_NAME = re.compile(r"^[A-Za-z0-9.\-]+$")

_LANDING = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>slychat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body>
<main>
<h1>slychat is running</h1>
<p>This is a chat server: apps connect with socket.io-client to the
<code>/presence</code> and <code>/chat</code> namespaces and send media to
<code>/api/v1/chat/send-image</code>, <code>send-pdf</code> and <code>send-video</code>.</p>
<p>Documentation: <code>README.md</code> (setup, configuration) and
<code>docs/protocol.md</code> (every event and route) in the slychat source.</p>
<p>Contracts: <a href="/api/docs">/api/docs</a> (the HTTP API),
<a href="/openapi.json">/openapi.json</a> and <a href="/asyncapi.json">/asyncapi.json</a>
(the Socket.IO events).</p>
<p>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a>.
Set <code>SLYCHAT_DEMO=1</code> to serve the demo chat page here.</p>
</main>
</body>
</html>
"""


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a plain http(s) URL as browsers read it, or None."""
    parsed = web_urls.parse(url.strip()) if url else None
    return None if parsed is None else parsed.origin


def image_origins(settings: Settings) -> list[str]:
    """Where media files are fetched from, besides this origin: the public URL media links
    are built on, and the bucket (its public URL, or where pre-signed redirects lead)."""
    found = [origin_of(settings.public_url)]
    if settings.media_store == "s3":
        if settings.s3_public_url:
            found.append(origin_of(settings.s3_public_url))
        elif settings.s3_endpoint_url:
            found.append(origin_of(settings.s3_endpoint_url))
        elif settings.s3_bucket and _HOST_NAME.match(settings.s3_bucket):
            bucket, region = settings.s3_bucket, settings.s3_region
            found.append(f"https://{bucket}.s3.amazonaws.com")
            if _HOST_NAME.match(region):
                found.append(f"https://{bucket}.s3.{region}.amazonaws.com")
    return sorted({o for o in found if o is not None})


def image_hosts(settings: Settings) -> list[str]:
    """SLYCHAT_MEDIA_HOSTS: the only hosts chat metadata images (product pictures, store
    logos) may point at, with their subdomains. Unset, metadata may name any host: the
    page then shows such pictures only when they live at an origin above."""
    return sorted({h.lower() for h in settings.media_hosts if _HOST_NAME.match(h)})


def content_security_policy(settings: Settings, host: str | None) -> str:
    images = ["'self'", *image_origins(settings)]
    for name in image_hosts(settings):
        images += [f"{scheme}://{sub}{name}" for scheme in ("https", "http") for sub in ("", "*.")]
    # 'self' covers the WebSocket to this origin in current browsers; the explicit ws(s)
    # sources are for those that read 'self' as http(s) only.
    connect = ["'self'"]
    this = web_urls.authority(host) if host else None
    if this is not None:
        connect += [f"ws://{this.host}", f"wss://{this.host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(settings: Settings, request: Request) -> dict[str, str]:
    return COMMON_HEADERS | {
        "Content-Security-Policy": content_security_policy(settings, request.headers.get("host"))
    }


def page_config(settings: Settings) -> dict[str, object]:
    """What the page needs to know about this server (GET /demo/config.json)."""
    return {
        "devMode": settings.dev_mode,
        "clientLibrary": CLIENT_LIBRARY.is_file(),
        "imageOrigins": image_origins(settings),
        "imageHosts": image_hosts(settings),
        "chatStarters": [role.upper() for role in settings.chat_starters],
        # `serve --workers` accepts websocket only: the client must not start with polling.
        "transports": settings.transports,
        "maxTextLength": settings.max_text_length,
        "maxFiles": settings.media_max_files,
        "maxImageBytes": int(settings.media_max_image_bytes),
        "maxPdfBytes": int(settings.media_max_pdf_bytes),
    }


def demo_routes(settings: Settings) -> list[BaseRoute]:
    if not settings.demo_page:

        async def landing(request: Request) -> Response:
            return HTMLResponse(_LANDING, headers=page_headers(settings, request))

        return [Route("/", landing)]

    async def index(request: Request) -> Response:
        return FileResponse(
            STATIC / "index.html", media_type="text/html", headers=page_headers(settings, request)
        )

    async def config(_request: Request) -> Response:
        return JSONResponse(page_config(settings), headers=ASSET_HEADERS)

    files = StaticFiles(directory=STATIC, check_dir=False)
    return [
        Route("/", index),
        Route("/demo/config.json", config),
        Mount("/demo", app=WithHeaders(files, ASSET_HEADERS), name="demo"),
    ]
