"""What both namespaces share: per-socket sessions, ordered handling and error replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio

from slychat.container import Container
from slychat.errors import AppError, Invalid
from slychat.identity import User
from slychat.transport import wire
from slychat.transport.schemas import Payload, parse

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
_RESERVED = frozenset({"connect", "disconnect", "connect_error"})


class Session:
    """One socket's user and handshake state, kept small: a server holds thousands.

    The server runs each socket's events one at a time, in arrival order, on the socket's
    own reader (`async_handlers=False`), so two messages sent back to back are stored in
    order without any lock. Events that arrive during the /chat handshake wait for it:
    `opening` is its outcome while it runs, and None once the socket is open.
    """

    __slots__ = ("alive", "opening", "user")

    def __init__(self, user: User, opening: asyncio.Future[bool] | None = None) -> None:
        self.user = user
        self.opening = opening
        self.alive = True  # until the socket disconnects

    async def is_open(self) -> bool:
        return self.opening is None or await self.opening

    def opened(self, ok: bool) -> None:
        """The handshake is over: events may run (`ok`), or are refused."""
        if self.opening is not None and not self.opening.done():
            self.opening.set_result(ok)
        if ok:
            self.opening = None


class Namespace(socketio.AsyncNamespace):  # type: ignore[misc]
    events: frozenset[str] = frozenset()

    def __init__(self, path: str, container: Container) -> None:
        super().__init__(path)
        self.c = container
        self.sessions: dict[str, Session] = {}
        self._background: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None], user: User) -> None:
        """Run `work` beside the handlers; its failure is logged, never lost."""

        def finished(task: asyncio.Task[None]) -> None:
            self._background.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("background work of %s failed", user.key, exc_info=task.exception())

        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(finished)

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        """Route client events; drop what a client may not trigger.

        A client could emit an event literally named "connect" or "disconnect", which the
        base class would route to the lifecycle handlers; those are only genuine while the
        socket is not fully connected (handshake) or already leaving (disconnect).
        """
        if not isinstance(event, str) or not args:
            return None
        sid = args[0]
        if event in _RESERVED:
            if self.server.manager.is_connected(sid, self.namespace):
                return await self.fail(sid, Invalid(f"'{event}' is a reserved event name"))
            return await super().trigger_event(event, *args)
        if event not in self.events:
            return await self.fail(sid, Invalid(f"Unknown event '{event[:64]}'"))
        session = self.sessions.get(sid)
        if session is not None:
            refusal = await self.token_refusal(sid, session) or await self.rate_refusal(
                sid, session, event
            )
            if refusal is not None:
                return await self.fail(sid, refusal)
        return await super().trigger_event(event, *args)

    async def token_refusal(self, sid: str, session: Session) -> AppError | None:
        """Why the socket's token no longer lets it act (expired, revoked), if it does not."""
        return None

    async def rate_refusal(self, sid: str, session: Session, event: str) -> AppError | None:
        """Why `event` may not run now (a rate limit), if it may not."""
        return None

    async def fail(self, sid: str, exc: AppError) -> wire.Json:
        """Tell the socket what went wrong; the handler returns the same object as its ack."""
        body = wire.error(exc)
        await self.emit("appError", body, to=sid)
        return body

    async def handle(
        self,
        sid: str,
        args: tuple[Any, ...],
        model: type[P],
        action: Callable[[Session, P], Awaitable[wire.Json]],
    ) -> wire.Json | None:
        """Validate, run `action` once the socket is open, and map errors to appError."""
        session = self.sessions.get(sid)
        if session is None:
            return None
        if not await session.is_open():
            return await self.fail(sid, Invalid("The connection is not ready"))
        try:
            return await action(session, parse(model, args))
        except AppError as exc:
            return await self.fail(sid, exc)
        except Exception:
            log.exception("handler failed for %s", session.user.key)
            return await self.fail(sid, AppError())
