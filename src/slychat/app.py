"""The ASGI app: Socket.IO (/presence, /chat) with Starlette beside it for HTTP."""

from __future__ import annotations

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
        try:
            yield
        finally:
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
