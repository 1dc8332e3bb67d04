"""HTTP routes beside Socket.IO: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slychat.container import Container
from slychat.domain.errors import Unavailable
from slychat.logs.redaction import describe
from slychat.routes.metrics import registry_for
from slychat.sockets.base import Namespace

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 3.0  # seconds each readiness check may take
# Redis answers in a millisecond; one that takes a second is as good as down (a paused
# Redis must not keep /readyz waiting as long as the pause).
REDIS_CHECK_TIMEOUT = 1.0


def routes(container: Container, namespaces: Sequence[Namespace] = ()) -> list[Route]:
    """`namespaces`: the Socket.IO namespaces whose sockets and events /metrics counts."""
    registry = registry_for(container, namespaces)
    metrics_token = container.settings.metrics_token
    heads: list[frozenset[str]] = []  # the migration scripts' head, read once
    last: dict[str, str] = {}  # each check's last outcome: a failure is logged once

    async def healthz(_request: Request) -> JSONResponse:
        """The process is alive and serving: nothing else is checked."""
        return JSONResponse({"status": "ok"})

    async def migrations() -> None:
        if not heads:
            url = container.settings.database_url
            heads.append(await asyncio.to_thread(_head_revisions, url))
        from slychat.storage import migrate  # imported by the thread above

        async with container.db.read() as conn:
            current = await conn.run_sync(migrate.current_revisions)
        if current != heads[0]:
            raise NotAtHead(f"at {sorted(current)}, not at head {sorted(heads[0])}")

    async def readyz(_request: Request) -> JSONResponse:
        """Ready to serve: every check passed; 503 naming the ones that failed."""
        checks: dict[str, Callable[[], Awaitable[None]]] = {"database": container.db.ping}
        if container.settings.redis_url:
            checks["redis"] = container.registry.ping
        checks["migrations"] = migrations
        checks["media"] = container.media_store.check_writable
        results = await asyncio.gather(
            *(
                _check(name, run, REDIS_CHECK_TIMEOUT if name == "redis" else CHECK_TIMEOUT, last)
                for name, run in checks.items()
            )
        )
        outcome = dict(zip(checks, results, strict=True))
        failed = [name for name, result in outcome.items() if result != "ok"]
        body: dict[str, object] = {"status": "not ready" if failed else "ready"}
        body["checks"] = outcome
        if failed:
            body["failed"] = failed
        return JSONResponse(body, status_code=503 if failed else 200)

    async def metrics(request: Request) -> Response:
        """Every series in the Prometheus text format."""
        if metrics_token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {metrics_token}".encode()):
                return JSONResponse(
                    {"error": True, "message": "Unauthorized", "statusCode": 401},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


class NotAtHead(Exception):
    """The database's schema revision is not the migration scripts' head."""


async def _check(
    name: str, run: Callable[[], Awaitable[None]], seconds: float, last: dict[str, str]
) -> str:
    """`ok`, or why the check failed (short: the body is public). Logged when the outcome
    changes, not on every call of a probe polling a node that is down."""
    try:
        async with asyncio.timeout(seconds):
            await run()
        outcome, detail = "ok", ""
    except TimeoutError:
        outcome, detail = "timeout", f"did not answer within {seconds:g} s"
    except Exception as exc:  # any failure means not ready; say which
        outcome = "not at head" if isinstance(exc, NotAtHead) else "failed"
        cause = exc.__cause__ if isinstance(exc, Unavailable) and exc.__cause__ else exc
        detail = f"failed: {describe(cause)}"
    if last.get(name, "ok") != outcome:
        if outcome == "ok":
            log.info("readiness: %s ok again", name)
        else:
            log.warning("readiness: %s %s", name, detail)
    last[name] = outcome
    return outcome


def _head_revisions(url: str) -> frozenset[str]:
    """The migration scripts' heads. Alembic is imported here, on the first readiness check
    and on its thread, not at every server's start (a tenth of a second of CPU)."""
    from slychat.storage import migrate

    return migrate.head_revisions(url)
