"""The moderation console: `/moderation`, the page the platform's moderators read reports
and decide on them with; its files are under `/moderation/`.

Served in every mode, production included: the page holds no secret. A moderator signs in
by pasting an API key with the moderation scopes, which the page keeps in the tab's
sessionStorage (never a cookie, so nothing is sent to this server that the page did not
put in an `Authorization` header itself) and sends to the moderation API only.

What it shows was written by users (reported messages, notes), so its
Content-Security-Policy runs only this origin's scripts and styles, no inline code, and
connects only back here (and to the S3 bucket the media route may redirect to). Images
come from `blob:` only besides this origin: media is fetched through the API with the key
and shown from memory, never loaded by URL (a media URL would need no key, and the page
should show only what the API let it read).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from slychat.config.settings import Settings
from slychat.routes.demo import image_origins
from slychat.routes.page_headers import ASSET_HEADERS, COMMON_HEADERS, WithHeaders

STATIC = Path(__file__).resolve().parent.parent / "static" / "moderation"
PATH = "/moderation"


def content_security_policy(settings: Settings) -> str:
    # With the S3 store the media route answers with a redirect to the bucket (a
    # pre-signed or public URL), which the page's fetch follows: the bucket's origins are
    # then places it may connect to (the bucket's CORS rules must let this origin GET).
    connect = ["'self'", *(image_origins(settings) if settings.media_store == "s3" else [])]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # 'self' for the server's icon; blob: for the media fetched with the key.
            "img-src 'self' blob:",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def moderation_page_routes(settings: Settings) -> list[BaseRoute]:
    headers = COMMON_HEADERS | {"Content-Security-Policy": content_security_policy(settings)}

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=headers)

    files = StaticFiles(directory=STATIC, check_dir=False)
    return [
        Route(PATH, page, methods=["GET"]),
        Mount(PATH, app=WithHeaders(files, ASSET_HEADERS), name="moderation"),
    ]
