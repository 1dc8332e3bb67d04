"""`GET /media/{key}`: the stored files, served so that a hostile file can do no harm.

Every response says exactly what the file is (`nosniff`) and forbids it from running
anything or loading anything (`Content-Security-Policy`), so even a crafted file shown
in a browser stays inert; PDFs are downloaded, never rendered inline by this origin.
Video is served with range requests. A store that keeps files elsewhere (S3 without
public URLs) answers with a redirect to a short-lived pre-signed URL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from slychat.domain.errors import NotFound
from slychat.media.store import LocalFile, MediaStore, Redirect, content_type_of, is_key
from slychat.protocol import outbound as wire

SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}
# Keys are never reused, so a file under a key never changes.
_CACHE = "private, max-age=31536000, immutable"


def media_routes(store: MediaStore) -> list[Route]:
    async def serve(request: Request) -> Response:
        return await stored_file(store, request.path_params["key"])

    return [Route("/media/{key}", serve, methods=["GET", "HEAD"])]


async def stored_file(store: MediaStore, key: str, cache: str = _CACHE) -> Response:
    """The stored file under `key` with safe headers (or a redirect to its pre-signed
    URL), or 404: for /media/{key} and the moderation API's report media."""
    found = await store.locate(key) if is_key(key) else None
    if found is None:
        return JSONResponse(wire.error(NotFound("File not found")), status_code=404)
    if isinstance(found, Redirect):
        # The pre-signed URL expires: never cache the redirect itself.
        return RedirectResponse(found.url, status_code=307, headers={"Cache-Control": "no-store"})
    return _file(found, key, cache)


def _file(found: LocalFile, key: str, cache: str) -> Response:
    content_type = content_type_of(key)
    attachment = content_type == "application/pdf"
    return FileResponse(
        found.path,
        media_type=content_type,
        headers=SAFETY_HEADERS | {"Cache-Control": cache},
        filename=key if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
    )
