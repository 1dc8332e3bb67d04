"""The original system's HTTP routes over a user's chats, beside the /chat events they
mirror: `GET /api/v1/chat` (getUserChats), `GET /api/v1/chat/{productId}/{vendorId}/
{customerId}` (joinChat's page, read-only) and `DELETE /api/v1/chat/{messageId}`
(deleteMessage, with its emits).

Each authenticates with the user's JWT as `Authorization: Bearer <token>` (as the upload
routes do), spends one of the user's `SLYCHAT_RATE_EVENTS` tokens, and answers the
envelope of the matching event, or the error object under its HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slychat.container import Container
from slychat.errors import Forbidden
from slychat.identity import Role, User
from slychat.transport import schemas, wire
from slychat.transport.handshake import bearer_token, verified
from slychat.transport.http_errors import guarded
from slychat.transport.presenter import Presenter

log = logging.getLogger(__name__)

_CHAT_ROLES = frozenset({Role.CUSTOMER, Role.VENDOR})
Action = Callable[[Request, User], Awaitable[wire.Json]]


def chat_routes(container: Container, presenter: Presenter) -> list[Route]:
    c = container

    async def list_chats(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.GetUserChats, (_query(request),))
        chats = await c.chats.list_chats(user, p.before, p.limit)
        return presenter.chats("Chats has been sent successfully", user, chats)

    async def read_chat(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.ReadChat, (_query(request) | request.path_params,))
        view = await c.chats.read_chat(user, p.key(), p.cursor(), p.limit)
        return wire.ok("Chats has been loaded", presenter.chat(view, user))

    async def delete_message(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.DeleteMessage, (_query(request) | request.path_params,))
        deleted = await c.messages.delete(user, p.messageId, p.ref())
        await presenter.publish([deleted])
        return presenter.deleted(deleted)

    return [
        Route("/api/v1/chat", _endpoint(c, list_chats), methods=["GET"]),
        # A product id may hold a `/` (sent as %2F): the last two parts are the users.
        Route(
            "/api/v1/chat/{productId:path}/{vendorId}/{customerId}",
            _endpoint(c, read_chat),
            methods=["GET"],
        ),
        Route("/api/v1/chat/{messageId}", _endpoint(c, delete_message), methods=["DELETE"]),
    ]


def _query(request: Request) -> dict[str, Any]:
    """The query's fields as an event payload: `limit` is a number there, so digits are
    read as one (anything else is left for the schema to refuse)."""
    query: dict[str, Any] = dict(request.query_params)
    limit = query.get("limit")
    if isinstance(limit, str) and limit.isascii() and limit.isdigit() and len(limit) < 10:
        query["limit"] = int(limit)
    return query


def _caller(container: Container, request: Request) -> User:
    """The user of the request's Bearer token: valid, unrevoked, a customer or a vendor."""
    user = verified(container, bearer_token(request.headers.get("authorization"))).user
    if user.role not in _CHAT_ROLES:
        raise Forbidden(f"{user.role.value.lower()} accounts cannot use the chat routes")
    return user


def _endpoint(container: Container, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        user = _caller(container, request)
        await container.limits.request(user)
        return JSONResponse(await action(request, user))

    async def endpoint(request: Request) -> Response:
        return await guarded(answer(request), log, f"the chat route {action.__name__}")

    return endpoint
