"""The original system's HTTP routes over a user's chats, beside the /chat events they
mirror: `GET /api/v1/chat` (getUserChats), `GET /api/v1/chat/{productId}/{vendorId}/
{customerId}` (joinChat's page, read-only), `DELETE /api/v1/chat/{messageId}`
(deleteMessage, with its emits) and `GET /api/v1/messages/search` (searchMessages).

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
from slychat.domain.errors import Forbidden
from slychat.domain.identity import Role, User
from slychat.protocol import inbound as schemas
from slychat.protocol import outbound as wire
from slychat.routes.http_errors import guarded
from slychat.routes.query import query_payload
from slychat.sockets.presenter import Presenter
from slychat.sockets.tokens import bearer_token, verified

log = logging.getLogger(__name__)

_CHAT_ROLES = frozenset({Role.CUSTOMER, Role.VENDOR})
Action = Callable[[Request, User], Awaitable[wire.Json]]


def chat_routes(container: Container, presenter: Presenter) -> list[Route]:

    async def list_chats(request: Request, user: User) -> wire.Json:
        query = query_payload(request, ("limit",), flags=("archived",))
        p = schemas.parse(schemas.GetUserChats, (query,))
        chats = await container.chats.list_chats(user, p.before, p.limit, p.archived)
        return presenter.chats("Chats has been sent successfully", user, chats)

    async def read_chat(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.ReadChat, (_query(request) | request.path_params,))
        view = await container.chats.read_chat(user, p.key(), p.cursor(), p.limit)
        return wire.ok("Chats has been loaded", presenter.chat(view, user))

    async def delete_message(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.DeleteMessage, (_query(request) | request.path_params,))
        return wire.deleted(await container.messages.delete(user, p.messageId, p.ref()))

    async def search_messages(request: Request, user: User) -> wire.Json:
        p = schemas.parse(schemas.SearchMessagesQuery, (_query(request),))
        after = p.after(container.cursors, user)
        page = await container.search.search(user, p.words(), p.chatId, after, p.limit)
        return presenter.search(user, page)

    return [
        Route("/api/v1/chat", _endpoint(container, list_chats), methods=["GET"]),
        Route("/api/v1/messages/search", _endpoint(container, search_messages), methods=["GET"]),
        # A product id may hold a `/` (sent as %2F): the last two parts are the users.
        Route(
            "/api/v1/chat/{productId:path}/{vendorId}/{customerId}",
            _endpoint(container, read_chat),
            methods=["GET"],
        ),
        Route("/api/v1/chat/{messageId}", _endpoint(container, delete_message), methods=["DELETE"]),
    ]


def _query(request: Request) -> dict[str, Any]:
    """`limit` is a number in the events; `before` a chat or message id (or a seq)."""
    return query_payload(request, ("limit",))


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
