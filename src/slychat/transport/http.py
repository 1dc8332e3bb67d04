"""HTTP routes beside Socket.IO: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slychat.container import Container
from slychat.logs import describe
from slychat.storage.migrate import alembic_config
from slychat.transport.base import Namespace
from slychat.transport.metrics import registry_for

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 5.0  # seconds each readiness check may take


def routes(container: Container, namespaces: Sequence[Namespace] = ()) -> list[Route]:
    """`namespaces`: the Socket.IO namespaces whose sockets and events /metrics counts."""
    registry = registry_for(container, namespaces)
    metrics_token = container.settings.metrics_token
    heads: list[frozenset[str]] = []  # the migration scripts' head, read once

    async def healthz(_request: Request) -> JSONResponse:
        """The process is alive and serving: nothing else is checked."""
        return JSONResponse({"status": "ok"})

    async def migrations() -> None:
        if not heads:
            cfg = alembic_config(container.settings.database_url)
            script = await asyncio.to_thread(ScriptDirectory.from_config, cfg)
            heads.append(frozenset(script.get_heads()))
        async with container.db.read() as conn:  # no alembic_version table: no revision
            current = frozenset(await conn.run_sync(_current_heads))
        if current != heads[0]:
            raise NotAtHead(f"at {sorted(current)}, not at head {sorted(heads[0])}")

    async def readyz(_request: Request) -> JSONResponse:
        """Ready to serve: every check passed; 503 naming the ones that failed."""
        checks: dict[str, Callable[[], Awaitable[None]]] = {"database": container.db.ping}
        if container.settings.redis_url:
            checks["redis"] = container.registry.ping
        checks["migrations"] = migrations
        checks["media"] = container.media_store.check_writable
        results = await asyncio.gather(*(_check(name, run) for name, run in checks.items()))
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


def _current_heads(conn: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(conn).get_current_heads()


class NotAtHead(Exception):
    """The database's schema revision is not the migration scripts' head."""


async def _check(name: str, run: Callable[[], Awaitable[None]]) -> str:
    """`ok`, or why the check failed (short: the body is public)."""
    try:
        await asyncio.wait_for(run(), CHECK_TIMEOUT)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %.0f s", name, CHECK_TIMEOUT)
        return "timeout"
    except Exception as exc:  # any failure means not ready; say which
        log.warning("readiness: %s failed: %s", name, describe(exc))
        return "not at head" if isinstance(exc, NotAtHead) else "failed"
    return "ok"
