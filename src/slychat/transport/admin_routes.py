"""The server-to-server API under `/api/v1/admin/...`: the platform's backend, with an API
key (`Authorization: Bearer slyk_...` or `X-Api-Key`) that carries the route's scope.

Thin: the key is checked before anything else is read, the request is validated by its
model (`admin_schemas.py`), a service acts, and whatever it reports is emitted through
the /chat Presenter after the commit. Chats and messages have the socket events' shapes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from slychat.container import Container
from slychat.errors import Invalid, TooLarge
from slychat.models import ChatView, Message
from slychat.services.admin import Erasure
from slychat.services.apikeys import Scope
from slychat.transport import admin_schemas as s
from slychat.transport import schemas, wire
from slychat.transport.handshake import bearer_token
from slychat.transport.http_errors import guarded
from slychat.transport.presenter import Presenter

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024  # the largest body (an open-chat request) is a few KB
Action = Callable[[Request], Awaitable[Response]]


def _no_cursor(_m: Message) -> None:
    """The admin API reads chats as nobody: no participant's sync cursor."""
    return None


def admin_routes(container: Container, presenter: Presenter) -> list[Route]:
    c = container
    url_of = presenter.media_url

    def chat_json(view: ChatView) -> wire.Json:
        return wire.chat(view, _no_cursor, url_of)

    async def user_chats(request: Request) -> Response:
        p = _parse(s.UserChatsQuery, _query(request) | request.path_params)
        user = p.user()
        chats = await c.admin.user_chats(user, p.before, p.limit)
        return JSONResponse(presenter.chats("Chats has been sent successfully", user, chats))

    async def history(request: Request) -> Response:
        p = _parse(s.HistoryQuery, _query(request) | request.path_params)
        view = await c.admin.history(p.chatId, p.cursor(), p.limit)
        return JSONResponse(wire.ok("Chats has been loaded", chat_json(view)))

    async def open_chat(request: Request) -> Response:
        p = _parse(s.OpenChatBody, await _json_body(request))
        opened = await c.admin.open_chat(p.command())
        await presenter.publish(opened.events)
        messages = [opened.message] if opened.message is not None else []
        body = chat_json(ChatView(opened.chat, messages))
        if opened.created:
            return JSONResponse(_created("Chat has been created", body), status_code=201)
        return JSONResponse(wire.ok("Chat already exists", body))

    async def system_message(request: Request) -> Response:
        path = _parse(s.ChatPath, request.path_params)
        p = _parse(s.SystemMessageBody, await _json_body(request))
        sent = await c.admin.post_system(path.chatId, p.text, p.clientMessageId)
        await presenter.publish(sent.events)
        body = wire.message(sent.message, None, url_of)
        if sent.duplicate:
            return JSONResponse(wire.ok("Message was sent before", body))
        return JSONResponse(_created("Message has been sent", body), status_code=201)

    async def export(request: Request) -> Response:
        p = _parse(s.ChatPath, request.path_params)
        chat, pages = await c.admin.export(p.chatId)
        head = wire.ok("Chat has been exported", None)
        del head["data"]

        async def stream() -> AsyncIterator[bytes]:
            # One page of messages in memory at a time. A failure mid-way cannot change the
            # status any more: the body is cut short, which no JSON parser accepts.
            yield orjson.dumps(head)[:-1] + b',"data":{"chat":'
            yield orjson.dumps(chat_json(ChatView(chat))) + b',"messages":['
            first = True
            async for page in pages:
                for m in page:
                    item = wire.message(m, None, url_of) | {"deleted": m.deleted_at is not None}
                    yield (b"" if first else b",") + orjson.dumps(item)
                    first = False
            yield b"]}}"

        return StreamingResponse(stream(), media_type="application/json")

    async def erase(request: Request) -> Response:
        p = _parse(s.UserPath, request.path_params)
        done = Erasure()
        async for events in c.admin.erase(p.user(), done):
            await presenter.publish(events)
        counts = {
            "messagesErased": done.messages,
            "mediaFilesRemoved": done.media_files,
            "chatsCleared": done.chats,
            "lastSeenRemoved": done.last_seen,
        }
        return JSONResponse(wire.ok("User data has been erased", counts))

    users = "/api/v1/admin/users/{userType}/{userId}"
    chat = "/api/v1/admin/chats/{chatId}"
    return [
        Route(f"{users}/chats", _endpoint(c, Scope.CHATS_READ, user_chats), methods=["GET"]),
        Route(f"{chat}/messages", _endpoint(c, Scope.CHATS_READ, history), methods=["GET"]),
        Route("/api/v1/admin/chats", _endpoint(c, Scope.CHATS_WRITE, open_chat), methods=["POST"]),
        Route(
            f"{chat}/messages", _endpoint(c, Scope.CHATS_WRITE, system_message), methods=["POST"]
        ),
        Route(f"{chat}/export", _endpoint(c, Scope.CHATS_EXPORT, export), methods=["GET"]),
        Route(users, _endpoint(c, Scope.USERS_ERASE, erase), methods=["DELETE"]),
    ]


def _created(message: str, data: Any) -> wire.Json:
    return wire.ok(message, data) | {"statusCode": 201}


def _parse(model: type[schemas.P], payload: dict[str, Any]) -> schemas.P:
    return schemas.parse(model, (payload,))


def _query(request: Request) -> dict[str, Any]:
    """The query's fields; digit strings for `limit` and `before` read as numbers, as the
    socket events carry them (anything else is left for the model to refuse)."""
    query: dict[str, Any] = dict(request.query_params)
    for name in ("limit", "before"):
        value = query.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
            query[name] = int(value)
    return query


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, at most _MAX_BODY bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > _MAX_BODY:
        raise TooLarge("The request body is too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise TooLarge("The request body is too large")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("Invalid data provided: the body must be a JSON object") from exc
    if not isinstance(payload, dict):
        raise Invalid("Invalid data provided: the body must be a JSON object")
    return payload


def _presented_key(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")


def _endpoint(container: Container, scope: Scope, action: Action) -> Action:
    async def answer(request: Request) -> Response:
        key = await container.apikeys.verify(_presented_key(request), scope)
        await container.limits.api_key(key.id)
        return await action(request)

    async def endpoint(request: Request) -> Response:
        return await guarded(answer(request), log, f"the admin route {action.__name__}")

    return endpoint
