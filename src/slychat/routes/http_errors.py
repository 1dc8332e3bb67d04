"""How the JSON HTTP routes answer a failure: an `AppError` as the error object under its
status (with `Retry-After` on a 429), anything else logged and answered as a bare 500; and
how every request no route takes is answered: the same error object, never plain text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slychat.domain.errors import AppError
from slychat.protocol import outbound as wire


def error_response(exc: AppError) -> JSONResponse:
    """The error object under the error's HTTP status."""
    retry_after = wire.retry_after(exc)
    headers = None if retry_after is None else {"Retry-After": retry_after}
    return JSONResponse(wire.error(exc), status_code=exc.status_code, headers=headers)


async def guarded(answer: Awaitable[Response], log: logging.Logger, what: str) -> Response:
    """`answer`'s response, or the error response of what it raised; an unexpected
    exception is logged (as `what` failed) and its details stay out of the reply."""
    try:
        return await answer
    except AppError as exc:
        return error_response(exc)
    except Exception:
        log.exception("%s failed", what)
        return JSONResponse(wire.error(AppError()), status_code=500)


async def unrouted(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route matches the path, its method is not allowed, a
    static file is missing), raised wherever routing gave up: a path whose dot segments
    or encoded slashes match no route is one like any other."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    body = {"error": True, "message": exc.detail, "statusCode": exc.status_code}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
