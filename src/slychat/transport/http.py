"""HTTP routes beside Socket.IO: health and readiness."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from slychat.container import Container

log = logging.getLogger(__name__)


def routes(
    container: Container, open_sockets: Callable[[], Mapping[str, int]] = dict
) -> list[Route]:
    """`open_sockets()`: how many sockets each namespace holds (a gauge in /metrics)."""

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
        if container.settings.redis_url:
            try:
                await container.registry.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                log.warning("readiness: redis unreachable: %s", exc)
                checks["redis"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(_request: Request) -> PlainTextResponse:
        """Counters in the Prometheus text format."""
        counters = {
            "slychat_fanout_publish_failures_total": getattr(
                container.fanout, "publish_failures", 0
            ),
            "slychat_registry_failures_total": getattr(container.registry, "failures", 0),
            # Rate checks allowed unchecked because the limiter's Redis did not answer.
            "slychat_ratelimit_failures_total": getattr(container.limits.limiter, "failures", 0),
            "slychat_rate_limited_total": container.limits.refused,
        }
        body = "".join(f"# TYPE {k} counter\n{k} {v}\n" for k, v in counters.items())
        gauge = "slychat_open_sockets"
        body += f"# TYPE {gauge} gauge\n" + "".join(
            f'{gauge}{{namespace="{ns}"}} {n}\n' for ns, n in open_sockets().items()
        )
        return PlainTextResponse(body)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
