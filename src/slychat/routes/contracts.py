"""`GET /openapi.json`, `GET /asyncapi.json` and `GET /api/docs` (Swagger UI).

/openapi.json lists the operations of the routes this app serves (a dev-mode route is
absent when it is not served), read from the app's own routing table on first use.
Swagger UI comes from npm (swagger-ui-dist, copied into the package by `make`); without
it the page says so and links the document. The page runs only this origin's scripts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from slychat.routes.page_headers import ASSET_HEADERS, COMMON_HEADERS, WithHeaders

STATIC = Path(__file__).resolve().parent.parent / "static" / "apidocs"
SWAGGER_UI = STATIC / "dist" / "swagger-ui-bundle.js"
# The server's icon, the demo page's own, for every page in any mode: a page without one
# makes the browser ask for /favicon.ico, a 404.
FAVICON = STATIC.parent / "demo" / "favicon.svg"
ICON_LINK = '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
_ASSETS = "/api/docs/assets"

_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVGs.
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_PAGE_HEADERS = COMMON_HEADERS | {"Content-Security-Policy": _CSP}

_PAGE = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>slychat HTTP API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{ICON_LINK}
<link rel="stylesheet" href="{_ASSETS}/dist/swagger-ui.css"></head>
<body>
<div id="swagger-ui"></div>
<script src="{_ASSETS}/dist/swagger-ui-bundle.js"></script>
<script src="{_ASSETS}/init.js"></script>
</body>
</html>
"""

_NO_UI = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>slychat HTTP API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{ICON_LINK}</head>
<body>
<main>
<h1>slychat HTTP API</h1>
<p>Swagger UI is not installed in this server (it is copied from npm's
<code>swagger-ui-dist</code> by <code>make</code>). The documents themselves:</p>
<ul>
<li><a href="/openapi.json">/openapi.json</a>: the HTTP routes (OpenAPI 3.1)</li>
<li><a href="/asyncapi.json">/asyncapi.json</a>: the Socket.IO events (AsyncAPI 3.0)</li>
</ul>
</main>
</body>
</html>
"""


def served_keys(routes: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route in `routes`; HEAD goes with GET."""
    return {
        (method, route.path)
        for route in routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


def contract_routes() -> list[BaseRoute]:
    built: dict[str, Any] = {}

    async def openapi_json(request: Request) -> Response:
        if "openapi" not in built:
            # Imported here: the documents' models cost every server start ~0.15 s of CPU
            # for a route few requests hit.
            from slychat.contracts import openapi
            from slychat.contracts.http_api import OPERATIONS, WEBHOOKS

            served = served_keys(request.app.routes)
            operations = (op for op in OPERATIONS if op.key in served)
            built["openapi"] = openapi.document(operations, WEBHOOKS)
        return JSONResponse(built["openapi"])

    async def asyncapi_json(_request: Request) -> Response:
        if "asyncapi" not in built:
            from slychat.contracts import asyncapi

            built["asyncapi"] = asyncapi.document()
        return JSONResponse(built["asyncapi"])

    async def docs(_request: Request) -> Response:
        page = _PAGE if SWAGGER_UI.is_file() else _NO_UI
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def favicon(_request: Request) -> Response:
        return FileResponse(FAVICON, media_type="image/svg+xml", headers=ASSET_HEADERS)

    files = StaticFiles(directory=STATIC, check_dir=False)
    return [
        Route("/favicon.svg", favicon, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/asyncapi.json", asyncapi_json, methods=["GET"]),
        Route("/api/docs", docs, methods=["GET"]),
        Mount(_ASSETS, app=WithHeaders(files, ASSET_HEADERS), name="apidocs"),
    ]
