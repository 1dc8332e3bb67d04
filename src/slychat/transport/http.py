"""HTTP routes beside Socket.IO: health and readiness."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from slychat.container import Container

log = logging.getLogger(__name__)


def routes(container: Container) -> list[Route]:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await container.db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            log.warning("readiness: database unreachable: %s", exc)
            checks["database"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
