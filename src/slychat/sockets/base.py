"""What both namespaces share: per-socket sessions, ordered handling and error replies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio

from slychat.container import Container
from slychat.domain.errors import (
    AppError,
    Forbidden,
    Invalid,
    RateLimited,
    TooManyConnections,
    Unauthorized,
    Unavailable,
)
from slychat.domain.identity import User
from slychat.protocol import outbound as wire
from slychat.protocol.inbound import Payload, parse
from slychat.server.codec import UNREADABLE
from slychat.services.limits import Limits
from slychat.sockets.presenter import Presenter
from slychat.sockets.tokens import SUSPENDED

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)
_RESERVED = frozenset({"connect", "disconnect", "connect_error"})
_RESTARTING = "The server is restarting: send again once reconnected"
OUTCOMES = ("ok", "4xx", "5xx")  # the order of each event's counts in `Namespace.outcomes`
# Events that also spend a bucket of their user, besides their socket's.
_PER_USER: dict[str, Callable[[Limits, User], Awaitable[None]]] = {
    "sendMessage": Limits.message,
    # An edit re-sends a text to the other party: it spends what a message does.
    "editMessage": Limits.message,
    "typing": Limits.typing,
    "stoppedTyping": Limits.typing,
    # A report writes a snapshot of up to 50 messages: it spends what a message does, so
    # that one user cannot fill the moderators' queue faster than they could chat.
    "reportMessage": Limits.message,
    "reportUser": Limits.message,
}


class Session:
    """One socket's user, token and opening, kept small: a server holds thousands.

    The server runs each socket's events one at a time, in arrival order, on the socket's
    own reader (`async_handlers=False`), so two messages sent back to back are stored in
    order without any lock. Events that arrive while a /chat socket is opening (the steps
    after its handshake: `ChatNamespace._welcome`) wait for it: `opening` is its outcome
    while it runs, and None once the socket is open.
    `expires_at` is when the handshake's token stops being honoured (its `exp` plus the
    clock leeway; None: never) and `token_id` its `jti`, by which it may be revoked.
    """

    __slots__ = ("alive", "events_full_at", "expires_at", "opening", "token_id", "user")

    def __init__(
        self,
        user: User,
        opening: asyncio.Future[bool] | None = None,
        *,
        expires_at: float | None = None,
        token_id: str | None = None,
    ) -> None:
        self.user = user
        self.opening = opening
        self.alive = True  # until the socket disconnects
        self.events_full_at = 0.0  # when this socket's event bucket is full again
        self.expires_at = expires_at
        self.token_id = token_id

    async def is_open(self) -> bool:
        return self.opening is None or await self.opening

    def opened(self, ok: bool) -> None:
        """The opening is over: events may run (`ok`), or are refused."""
        if self.opening is not None and not self.opening.done():
            self.opening.set_result(ok)
        if ok:
            self.opening = None


class Namespace(socketio.AsyncNamespace):  # type: ignore[misc]
    events: frozenset[str] = frozenset()

    def __init__(self, path: str, container: Container, present: Presenter) -> None:
        super().__init__(path)
        self.container = container
        self.present = present
        self.sessions: dict[str, Session] = {}
        self._background: set[asyncio.Task[None]] = set()
        # For /metrics: per known event (any other name counts as "unknown"), how many
        # ended in each of OUTCOMES; a fixed set of labels, whatever clients send.
        self.outcomes: dict[str, list[int]] = {e: [0, 0, 0] for e in (*self.events, "unknown")}

    def spawn(self, work: Awaitable[None], user: User) -> None:
        """Run `work` beside the handlers; its failure is logged, never lost."""

        def finished(task: asyncio.Task[None]) -> None:
            self._background.discard(task)
            exc = None if task.cancelled() else task.exception()
            if exc is not None and not isinstance(exc, Unavailable):  # logged as an outage
                log.error("background work of %s failed", user.key, exc_info=exc)

        task: asyncio.Task[None] = asyncio.ensure_future(work)
        # In flight until done: a drain waits for it (a /chat socket's opening).
        self.server.work.begin()
        task.add_done_callback(lambda _task: self.server.work.end())
        self._background.add(task)
        task.add_done_callback(finished)

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        """Route a client event (`route_event`), in flight until it is done (a drain waits
        for it: server/drain.py), and count its outcome."""
        with self.server.work.track():
            return await self._counted(event, *args)

    async def _counted(self, event: Any, *args: Any) -> Any:
        if event in _RESERVED:
            return await self.route_event(event, *args)
        counts = self.outcomes.get(event) or self.outcomes["unknown"]
        try:
            result = await self.route_event(event, *args)
        except Exception:
            counts[2] += 1
            raise
        if isinstance(result, dict) and result.get("error") is True:
            counts[2 if result.get("statusCode", 500) >= 500 else 1] += 1
        else:
            counts[0] += 1
        return result

    async def route_event(self, event: Any, *args: Any) -> Any:
        """Route client events; drop what a client may not trigger.

        A client could emit an event literally named "connect" or "disconnect", which the
        base class would route to the lifecycle handlers; those are only genuine while the
        socket is not fully connected (handshake) or already leaving (disconnect).
        """
        if not args:
            return None
        sid = args[0]
        if event in _RESERVED:
            if self.server.manager.is_connected(sid, self.namespace):
                return await self.fail(sid, Invalid(f"'{event}' is a reserved event name"))
            if event != "connect":
                return await super().trigger_event(event, *args)
            try:
                return await super().trigger_event(event, *args)
            except socketio.exceptions.ConnectionRefusedError:
                raise
            except Exception as exc:
                # A handshake that failed for the server's own reasons (storage or Redis
                # away) still answers the client, and keeps nothing of the socket.
                self.sessions.pop(sid, None)
                if not isinstance(exc, Unavailable):  # an outage logs itself, once
                    log.exception("a %s handshake failed", self.namespace)
                unavailable = exc if isinstance(exc, Unavailable) else Unavailable()
                raise socketio.exceptions.ConnectionRefusedError(
                    unavailable.message, wire.error(unavailable)
                ) from exc
        session = self.sessions.get(sid)
        if event not in self.events:
            # Refused for its name, it still spends its socket's bucket: a flood of such
            # events costs the server as much as any other.
            refusal = None if session is None else await self.rate_refusal(sid, session, event)
            if refusal is None:
                if not isinstance(event, str):  # a number: the protocol allows it, slychat not
                    refusal = Invalid("An event's name must be a string")
                elif event == UNREADABLE:
                    refusal = Invalid("The payload is nested deeper than this server reads")
                else:
                    refusal = Invalid(f"Unknown event '{event[:64]}'")
            return await self.fail(sid, refusal)
        if self.server.work.draining:
            # The process is leaving and closes this socket next: the client reconnects,
            # to another node, and sends again there.
            return await self.fail(sid, Unavailable(_RESTARTING))
        if session is not None:
            refusal = await self.token_refusal(sid, session) or await self.rate_refusal(
                sid, session, event
            )
            if refusal is not None:
                return await self.fail(sid, refusal)
        return await super().trigger_event(event, *args)

    async def token_refusal(self, sid: str, session: Session) -> AppError | None:
        """Why the socket's token no longer lets it act (expired, revoked, its user
        suspended), if it does not.
        The socket is then disconnected, once the refusal (appError and ack) is on its way."""
        refusal = stale_token(session, self.container, time.time())
        if refusal is not None:
            self.spawn(self.disconnect(sid), session.user)
        return refusal

    async def drop_stale_tokens(self) -> int:
        """Disconnect every socket whose token expired or was revoked (or whose user was
        suspended), saying why first;
        how many. Runs every `SLYCHAT_REVOCATION_POLL`, so that a socket that only listens
        does not go on receiving on a token that is no longer good."""
        now = time.time()
        dropped = 0
        for i, (sid, session) in enumerate(list(self.sessions.items())):
            if i % 1000 == 999:
                await asyncio.sleep(0)  # a long scan must not hold the loop
            refusal = stale_token(session, self.container, now)
            if refusal is not None and session.alive:
                await self.fail(sid, refusal)
                await self.disconnect(sid)
                dropped += 1
        return dropped

    async def rate_refusal(self, sid: str, session: Session, event: str) -> AppError | None:
        """Why `event` may not run now (a rate limit), if it may not: every event spends a
        token of its socket (in memory), some also one of their user (shared by the user's
        sockets, on every node with Redis)."""
        limits = self.container.limits
        try:
            session.events_full_at = limits.event(session.events_full_at, time.monotonic())
            per_user = _PER_USER.get(event)
            if per_user is not None:
                await per_user(limits, session.user)
        except RateLimited as exc:
            return exc
        return None

    async def refuse_over_cap(self, sid: str, user: User) -> None:
        """connect_error 429 when `user` already holds as many connections as allowed (with
        Redis, counted on every node). What counts is engine.io connections: one that opens
        both namespaces is one, and one that leaves its namespaces counts until it closes
        (which the handshake time limit sees to: server/engine.py)."""
        cap = self.container.settings.max_connections_per_user
        connection = self.server.manager.eio_sid_from_sid(sid, self.namespace) or sid
        if not await self.container.presence.admit_connection(user, connection, cap):
            exc = TooManyConnections(f"Too many connections: at most {cap} per user")
            raise socketio.exceptions.ConnectionRefusedError(exc.message, wire.error(exc))

    async def fail(self, sid: str, exc: AppError) -> wire.Json:
        """Tell the socket what went wrong; the handler returns the same object as its ack."""
        return await self.present.app_error(sid, self.namespace, exc)

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


def stale_token(session: Session, container: Container, now: float) -> AppError | None:
    """Why a socket's token is no longer good (expired or revoked, or its user suspended),
    if it is not."""
    if session.expires_at is not None and now >= session.expires_at:
        return Unauthorized("Token has expired")
    if container.revocations.is_revoked(session.token_id):
        return Unauthorized("Token has been revoked")
    if container.suspensions.is_suspended(session.user):
        return Forbidden(SUSPENDED)
    return None
