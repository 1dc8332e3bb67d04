"""The ASGI app: Socket.IO (/presence, /chat) with Starlette beside it for HTTP."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from slychat.config.settings import Settings
from slychat.container import Container
from slychat.domain.errors import Unavailable
from slychat.domain.identity import User
from slychat.logs.context import as_task
from slychat.process import lifecycle
from slychat.process.periodic import every, logged
from slychat.protocol.namespaces import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from slychat.realtime.feed_order import FeedOrder
from slychat.routes.admin import admin_routes
from slychat.routes.chats import chat_routes
from slychat.routes.contracts import contract_routes
from slychat.routes.demo import demo_routes
from slychat.routes.dev_tokens import dev_token_routes
from slychat.routes.health import routes
from slychat.routes.http_errors import unrouted
from slychat.routes.media_files import media_routes
from slychat.routes.moderation_page import moderation_page_routes
from slychat.routes.uploads import upload_routes
from slychat.server.admission import Admission
from slychat.server.codec import Packet
from slychat.server.drain import TrackRequests, drain
from slychat.server.engine import Server
from slychat.server.request_ids import RequestIds
from slychat.sockets.chat import ChatNamespace
from slychat.sockets.default import DefaultNamespace
from slychat.sockets.live_tokens import check_tokens, watch_tokens
from slychat.sockets.presence import PresenceNamespace
from slychat.sockets.presenter import Presenter

log = logging.getLogger(__name__)


async def _prune_forever(container: Container) -> None:
    """Drop sync changes past their retention, a few times per retention period."""

    async def prune() -> None:
        pruned = await container.sync.prune()
        if pruned:
            log.info("pruned %d sync changes older than the retention", pruned)

    interval = min(3600.0, max(1.0, container.settings.sync_retention / 4))
    await every(interval, prune, "pruning the sync feed", log)


async def _sweep_media_forever(container: Container) -> None:
    """Remove media files that no message references: at start, then every interval
    (only at start when the interval is 0)."""
    interval = container.settings.media_sweep_interval
    if interval <= 0:
        await logged(container.media.sweep(), "the media sweep", log)
        return
    await every(interval, container.media.sweep, "the media sweep", log, at_start=True)


_RULES = "reading the moderation rules"


async def _read_rules_forever(container: Container) -> None:
    """The moderation rules read again every SLYCHAT_REVOCATION_POLL: one changed on
    another node is in effect here within that time."""
    rules = container.moderation_rules
    await every(container.settings.revocation_poll, rules.refresh, _RULES, log)


def _tune_gc() -> None:
    """The cyclic garbage collector, tuned for a server: every message allocates many
    short-lived objects, so a young-generation pass every 700 allocations (the default)
    ran thousands of times a second, each also walking what startup built. Young passes
    now come every 50,000 allocations, older ones proportionally rarer, and what startup
    built is frozen out of every pass. Measured: +10-15% messages per second, and the p99
    of a saturated closed loop fell from ~95 ms to ~24 ms."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def create_app(settings: Settings, container: Container | None = None) -> Any:
    """Build the app; the container is closed when the ASGI lifespan ends."""
    container = container or Container.build(settings)
    origins: str | list[str] = "*" if "*" in settings.cors_origins else settings.cors_origins
    sio = Server(
        async_mode="asgi",
        # Each socket's events run one at a time on its own reader, in arrival order (no
        # task per event, no per-socket lock); different sockets run concurrently.
        async_handlers=False,
        serializer=Packet,
        client_manager=container.fanout,
        cors_allowed_origins=origins,
        transports=settings.transports,
        logger=False,
        engineio_logger=False,
        # Hostile clients (docs/security.md): the largest packet a client may send, the
        # packets that may wait for a slow reader, the process's connection cap, handshake
        # attempts per address, and how long a connection may stay without a namespace.
        max_http_buffer_size=settings.max_packet_bytes,
        max_queued_packets=settings.max_queued_events,
        admission=Admission(container.limits, settings.max_connections, settings.client_ip_header),
        handshake_timeout=settings.handshake_timeout,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
    )
    # The per-user cap counts engine.io connections, each until it closes.
    sio.closed_hooks.append(container.presence.connection_closed)
    sio.register_namespace(DefaultNamespace())  # refuses every connection to `/`
    # The one emitter: of what the services commit (their event sink) and of every reply.
    # What each /chat socket here was sent of its feed: no cursor handed to a socket held
    # after a fan-out break goes past what it was sent (realtime/feed_order.py).
    order = FeedOrder()
    present = Presenter(
        sio,
        container.cursors,
        container.media_store.url,
        order.hold_of,
        container.blocks.cache.blocks,
    )
    container.events.attach(present.publish)
    presence = PresenceNamespace(PRESENCE_NAMESPACE, container, present)
    sio.register_namespace(presence)
    chat = ChatNamespace(CHAT_NAMESPACE, container, present, order)
    sio.register_namespace(chat)

    async def presence_changed(kind: str, user: User, online: bool) -> None:
        try:
            await container.presence.changed(kind, user, online)
        except Unavailable:  # the database is away: its outage is logged, once
            log.info("announcing a presence change of %s: the database is away", user.key)
        except Exception:  # one failed announcement must not stop the maintenance loop
            log.exception("announcing a presence change of %s failed", user.key)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        _tune_gc()
        await container.cursors.load(container.db)  # a public-key setup's stored cursor key
        await container.registry.start()
        await container.media_store.open()
        await check_tokens(container, [presence, chat])  # the revocations in force, before serving
        await logged(container.blocks.refresh(), "reading the blocks in force", log)
        await logged(container.moderation_rules.refresh(), _RULES, log)  # before serving too
        tasks = [
            # Each names itself in its log lines (`task=`).
            asyncio.create_task(as_task("watch_tokens", watch_tokens(container, [presence, chat]))),
            asyncio.create_task(as_task("moderation_rules", _read_rules_forever(container))),
            asyncio.create_task(as_task("media_sweep", _sweep_media_forever(container))),
            asyncio.create_task(as_task("sync_prune", _prune_forever(container))),
            asyncio.create_task(as_task("db_maintain", container.db.maintain())),
            asyncio.create_task(as_task("presence", container.registry.run(presence_changed))),
            asyncio.create_task(as_task("blocks", container.blocks.listen())),
            # A backstop for a notice lost between nodes (pub/sub keeps nothing).
            asyncio.create_task(
                as_task(
                    "blocks_poll",
                    every(
                        container.settings.revocation_poll,
                        container.blocks.refresh,
                        "reading blocks",
                        log,
                    ),
                )
            ),
        ]
        if container.webhooks is not None:  # SLYCHAT_WEBHOOK_URL: the sender, on the lease's holder
            tasks.append(asyncio.create_task(as_task("webhooks", container.webhooks.run())))
        # When the server begins to stop (process/serving.py): finish the events in flight,
        # then send every client away to reconnect elsewhere.
        forget_drain = lifecycle.on_drain(lambda deadline: drain(sio.work, sio.eio, deadline))
        try:
            yield
        finally:
            forget_drain()
            for task in tasks:
                task.cancel()
            # Their clean-up (a connection closed, a lease handed back) comes before the
            # storage and Redis clients they use are closed.
            await asyncio.wait(tasks, timeout=5)
            await container.close()

    http = Starlette(
        routes=routes(container, [presence, chat])
        + upload_routes(container, present)
        + chat_routes(container, present)
        + admin_routes(container, present)
        + media_routes(container.media_store)
        + dev_token_routes(container)  # dev mode only: nothing to route otherwise
        + contract_routes()  # /openapi.json, /asyncapi.json, /api/docs
        + moderation_page_routes(settings)  # /moderation: every mode (it holds no secret)
        + demo_routes(settings),
        lifespan=lifespan,
        exception_handlers={HTTPException: unrouted},
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
            ),
            Middleware(TrackRequests, work=sio.work),  # uploads and REST calls in flight
        ],
    )
    # Outermost: every request's lines (Socket.IO's included) carry its request id.
    return RequestIds(socketio.ASGIApp(sio, other_asgi_app=http))


def app_from_env() -> Any:
    """Factory for `uvicorn --factory` and `slychat serve --workers`: settings from env."""
    return create_app(Settings())
