"""The server-to-server API under `/api/v1/admin/...`: the platform's backend, with an API
key (`Authorization: Bearer slyk_...` or `X-Api-Key`) that carries the route's scope.

Thin: the key is checked before anything else is read, the request is validated by its
model (`protocol/admin_requests.py`), a service acts and publishes what it committed (its
event sink, wired to the presenter). Chats and messages have the socket events' shapes.
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
from slychat.domain.errors import Invalid, TooLarge
from slychat.domain.models import ChatView, Message
from slychat.protocol import admin_requests as s
from slychat.protocol import inbound as schemas
from slychat.protocol import outbound as wire
from slychat.routes.http_errors import guarded
from slychat.routes.media_files import stored_file
from slychat.routes.query import query_payload
from slychat.services.admin import Erasure
from slychat.services.apikeys import ApiKey, Scope
from slychat.sockets.presenter import Presenter
from slychat.sockets.tokens import bearer_token

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024  # the largest body (an open-chat request) is a few KB
Action = Callable[[Request], Awaitable[Response]]


def _no_cursor(_m: Message) -> None:
    """The admin API reads chats as nobody: no participant's sync cursor."""
    return None


def admin_routes(container: Container, presenter: Presenter) -> list[Route]:
    url_of = presenter.media_url

    def chat_json(view: ChatView) -> wire.Json:
        # Read as nobody: nobody's block.
        return wire.chat(view, _no_cursor, url_of, blocked=False)

    async def user_chats(request: Request) -> Response:
        p = _parse(s.UserChatsQuery, _query(request) | request.path_params)
        user = p.user()
        chats = await container.admin.user_chats(user, p.before, p.limit)
        return JSONResponse(presenter.chats("Chats has been sent successfully", user, chats))

    async def history(request: Request) -> Response:
        p = _parse(s.HistoryQuery, _query(request) | request.path_params)
        view = await container.admin.history(p.chatId, p.cursor(), p.limit)
        return JSONResponse(wire.ok("Chats has been loaded", chat_json(view)))

    async def open_chat(request: Request) -> Response:
        p = _parse(s.OpenChatBody, await _json_body(request))
        opened = await container.admin.open_chat(p.command())
        messages = [opened.message] if opened.message is not None else []
        body = chat_json(ChatView(opened.chat, messages))
        if opened.created:
            return JSONResponse(_created("Chat has been created", body), status_code=201)
        return JSONResponse(wire.ok("Chat already exists", body))

    async def system_message(request: Request) -> Response:
        path = _parse(s.ChatPath, request.path_params)
        p = _parse(s.SystemMessageBody, await _json_body(request))
        sent = await container.admin.post_system(path.chatId, p.text, p.clientMessageId)
        body = wire.message(sent.message, None, url_of)
        if sent.duplicate:
            return JSONResponse(wire.ok("Message was sent before", body))
        return JSONResponse(_created("Message has been sent", body), status_code=201)

    async def contact_policy(request: Request) -> Response:
        path = _parse(s.ChatPath, request.path_params)
        p = _parse(s.ContactPolicyBody, await _json_body(request))
        chat = await container.admin.set_contact_policy(path.chatId, p.policy)
        body = {"chatId": chat.id, "policy": chat.contact_policy}
        return JSONResponse(wire.ok("Contact policy has been set", body))

    async def rules(_request: Request) -> Response:
        found = await container.moderation_rules.refresh()
        return JSONResponse(wire.ok("Rules", {"rules": [wire.moderation_rule(r) for r in found]}))

    async def add_rule(request: Request) -> Response:
        p = _parse(s.RuleBody, await _json_body(request))
        key: ApiKey = request.state.api_key
        row = await container.moderation_rules.add(p.kind, p.pattern, p.action, p.note, key.id)
        return JSONResponse(
            _created("Rule has been added", wire.moderation_rule(row)), status_code=201
        )

    async def delete_rule(request: Request) -> Response:
        p = _parse(s.RulePath, request.path_params)
        await container.moderation_rules.delete(p.id)
        return JSONResponse(wire.ok("Rule has been deleted", {"id": p.id}))

    async def export(request: Request) -> Response:
        p = _parse(s.ChatPath, request.path_params)
        chat, pages = await container.admin.export(p.chatId)
        head = wire.ok("Chat has been exported", None)
        del head["data"]

        async def stream() -> AsyncIterator[bytes]:
            # One page of messages in memory at a time. A failure mid-way cannot change the
            # status any more: the body is cut short, which no JSON parser accepts.
            yield orjson.dumps(head)[:-1] + b',"data":{"chat":'
            yield orjson.dumps(chat_json(ChatView(chat))) + b',"messages":['
            first = True
            async for page in pages:
                for e in page:
                    m = e.message
                    item = wire.message(m, None, url_of) | {
                        "deleted": m.deleted_at is not None,
                        "versions": [wire.version(v) for v in e.versions],
                        # Moderators only: what the sender wrote, where contact details
                        # were masked in `text`.
                        "originalText": e.original_text,
                    }
                    yield (b"" if first else b",") + orjson.dumps(item)
                    first = False
            yield b"]}}"

        return StreamingResponse(stream(), media_type="application/json")

    async def erase(request: Request) -> Response:
        p = _parse(s.UserPath, request.path_params)
        done = Erasure()
        await container.admin.erase(p.user(), done)
        counts = {
            "messagesErased": done.messages,
            "mediaFilesRemoved": done.media_files,
            "chatsCleared": done.chats,
            "lastSeenRemoved": done.last_seen,
        }
        return JSONResponse(wire.ok("User data has been erased", counts))

    # --- moderation ------------------------------------------------------------------

    async def list_reports(request: Request) -> Response:
        p = _parse(s.ReportsQuery, _query(request))
        page = await container.moderation.page(p.status, p.target(), p.before, p.limit)
        return JSONResponse(wire.ok("Reports have been listed", wire.report_page(page)))

    async def get_report(request: Request) -> Response:
        p = _parse(s.ReportPath, request.path_params)
        found = await container.moderation.report(p.reportId)
        return JSONResponse(wire.ok("Report", wire.report(found, with_snapshot=True)))

    async def resolve_report(request: Request) -> Response:
        path = _parse(s.ReportPath, request.path_params)
        p = _parse(s.ResolveBody, await _json_body(request))
        found = await container.moderation.resolve(path.reportId, p.command(), _key(request))
        return JSONResponse(
            wire.ok("Report has been resolved", wire.report(found, with_snapshot=True))
        )

    async def report_media(request: Request) -> Response:
        p = _parse(s.ReportMediaPath, request.path_params)
        key = await container.moderation.media_key(p.reportId, p.mediaId)
        # Evidence read with an API key: kept out of shared caches.
        return await stored_file(container.media_store, key, cache="private, no-store")

    async def suspend(request: Request) -> Response:
        path = _parse(s.UserPath, request.path_params)
        p = _parse(s.SuspendBody, await _json_body(request))
        done = await container.moderation.suspend(path.user(), p.reason, p.until, _key(request))
        return JSONResponse(wire.ok("User has been suspended", wire.suspension(done)))

    async def lift(request: Request) -> Response:
        path = _parse(s.UserPath, request.path_params)
        done = await container.moderation.lift(path.user(), _key(request))
        return JSONResponse(wire.ok("Suspension has been lifted", wire.suspension(done)))

    async def suspension(request: Request) -> Response:
        path = _parse(s.UserPath, request.path_params)
        found = await container.moderation.suspension(path.user())
        return JSONResponse(wire.ok("User is suspended", wire.suspension(found)))

    users = "/api/v1/admin/users/{userType}/{userId}"
    reports = "/api/v1/admin/reports"
    read, write = Scope.MODERATION_READ, Scope.MODERATION_WRITE
    chat = "/api/v1/admin/chats/{chatId}"
    rules_path = "/api/v1/admin/moderation/rules"
    return [
        Route(
            f"{users}/chats", _endpoint(container, Scope.CHATS_READ, user_chats), methods=["GET"]
        ),
        Route(f"{chat}/messages", _endpoint(container, Scope.CHATS_READ, history), methods=["GET"]),
        Route(
            "/api/v1/admin/chats",
            _endpoint(container, Scope.CHATS_WRITE, open_chat),
            methods=["POST"],
        ),
        Route(
            f"{chat}/messages",
            _endpoint(container, Scope.CHATS_WRITE, system_message),
            methods=["POST"],
        ),
        Route(
            f"{chat}/contact-policy",
            _endpoint(container, Scope.CHATS_WRITE, contact_policy),
            methods=["PUT"],
        ),
        Route(f"{chat}/export", _endpoint(container, Scope.CHATS_EXPORT, export), methods=["GET"]),
        Route(users, _endpoint(container, Scope.USERS_ERASE, erase), methods=["DELETE"]),
        Route(rules_path, _endpoint(container, Scope.MODERATION_READ, rules), methods=["GET"]),
        Route(rules_path, _endpoint(container, Scope.MODERATION_WRITE, add_rule), methods=["POST"]),
        Route(
            f"{rules_path}/{{id}}",
            _endpoint(container, Scope.MODERATION_WRITE, delete_rule),
            methods=["DELETE"],
        ),
        Route(reports, _endpoint(container, read, list_reports), methods=["GET"]),
        Route(f"{reports}/{{reportId}}", _endpoint(container, read, get_report), methods=["GET"]),
        Route(
            f"{reports}/{{reportId}}/resolve",
            _endpoint(container, write, resolve_report),
            methods=["POST"],
        ),
        Route(
            f"{reports}/{{reportId}}/media/{{mediaId}}",
            _endpoint(container, read, report_media),
            methods=["GET"],
        ),
        Route(f"{users}/suspend", _endpoint(container, write, suspend), methods=["POST"]),
        Route(f"{users}/suspend", _endpoint(container, write, lift), methods=["DELETE"]),
        Route(f"{users}/suspend", _endpoint(container, read, suspension), methods=["GET"]),
    ]


def _created(message: str, data: Any) -> wire.Json:
    return wire.ok(message, data) | {"statusCode": 201}


def _parse(model: type[schemas.P], payload: dict[str, Any]) -> schemas.P:
    return schemas.parse(model, (payload,))


def _query(request: Request) -> dict[str, Any]:
    """`limit` is a number, and so is a `before` that is a seq (as in joinChat)."""
    return query_payload(request, ("limit", "before"))


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


def _key(request: Request) -> ApiKey:
    key: ApiKey = request.state.api_key
    return key


def _presented_key(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")


def _endpoint(container: Container, scope: Scope, action: Action) -> Action:
    async def answer(request: Request) -> Response:
        key = await container.apikeys.verify(_presented_key(request), scope)
        await container.limits.api_key(key.id)
        request.state.api_key = key  # who acts: the moderation routes record it
        return await action(request)

    async def endpoint(request: Request) -> Response:
        return await guarded(answer(request), log, f"the admin route {action.__name__}")

    return endpoint
