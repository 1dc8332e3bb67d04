"""The ASGI app: Socket.IO (/presence, /chat) with Starlette beside it for HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from slychat.config import Settings
from slychat.container import Container
from slychat.transport.chat import ChatNamespace
from slychat.transport.http import routes
from slychat.transport.presence import PresenceNamespace

log = logging.getLogger(__name__)


async def _prune_forever(c: Container) -> None:
    """Drop sync changes past their retention, a few times per retention period."""
    interval = min(3600.0, max(1.0, c.settings.sync_retention / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            pruned = await c.sync.prune()
            if pruned:
                log.info("pruned %d sync changes older than the retention", pruned)
        except Exception:  # the next round tries again; never let the task die
            log.exception("pruning the sync feed failed")


def create_app(settings: Settings, container: Container | None = None) -> Any:
    """Build the app; the container is closed when the ASGI lifespan ends."""
    c = container or Container.build(settings)
    origins: str | list[str] = "*" if "*" in settings.cors_origins else settings.cors_origins
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=origins,
        logger=False,
        engineio_logger=False,
    )
    sio.register_namespace(PresenceNamespace("/presence", c))
    sio.register_namespace(ChatNamespace("/chat", c))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pruner = asyncio.create_task(_prune_forever(c))
        try:
            yield
        finally:
            pruner.cancel()
            await c.close()

    http = Starlette(
        routes=routes(c),
        lifespan=lifespan,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
            )
        ],
    )
    return socketio.ASGIApp(sio, other_asgi_app=http)
