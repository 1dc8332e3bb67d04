"""The authorization matrix: every client event and every HTTP route, tried by a stranger
on a chat or message that exists. Each is refused (and changes nothing, and tells nobody)
or, for what is only ever about the caller, reveals nothing of anyone else.

The rows are one table; the first test checks it names every event the namespaces accept
and every route the app serves, so a new event or route cannot be added without its row.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from slychat.app import create_app
from slychat.config.settings import Settings
from slychat.sockets.chat import ChatNamespace
from slychat.sockets.presence import PresenceNamespace
from tests import media_files
from tests.e2e.media_support import File, multipart
from tests.e2e.test_bad_input import (  # noqa: F401  (fixtures)
    Case,
    World,
    check_bad_event,
    db,
    snapshot,
    world,
)
from tests.support import SECRET, Server, new_chat_fields, token

Check = Callable[[World, AsyncEngine, Server], Awaitable[None]]
RULES = "/api/v1/admin/moderation/rules"


@dataclass(frozen=True)
class Row:
    what: str  # "/chat joinChat", "POST /api/v1/chat/send-image", ...
    check: Check


def refused(
    event: str, payload: Callable[[World], Any], status: int | tuple[int, ...], actor: str
) -> Check:
    """The stranger's event gets appError `status`; nothing changes; nobody else hears."""
    ns, name = event.split(" ")

    async def check(w: World, engine: AsyncEngine, _server: Server) -> None:
        await check_bad_event(w, engine, Case(event, name, payload, status, actor, ns))

    return check


def reveals_nothing(event: str, payload: Any, reply: str) -> Check:
    """An event only ever about the caller: the stranger's answer holds none of the chat."""
    name = event.split(" ")[1]

    async def check(w: World, _db: AsyncEngine, _server: Server) -> None:
        body = await w.c.request(name, payload(w) if callable(payload) else payload, reply)
        assert body.get("error") is not True, body
        assert w.chat_id not in str(body)
        assert w.a_message not in str(body)

    return check


def stranger_sync(w: World) -> Any:
    """The chat's customer's own sync cursor, replayed by a stranger."""
    return {"since": w.a.last("userChats")["syncCursor"]}


async def _sync_resets(w: World, _db: AsyncEngine, _server: Server) -> None:
    body = await w.c.request("syncMessages", stranger_sync(w))
    assert body["data"]["reset"] is True
    assert body["data"]["changes"] == []


def http_refused(
    method: str, path: str | Callable[[World], str], status: int, file: File | None = None
) -> Check:
    """The stranger (a vendor outside the chat) calls the route about the chat."""

    async def check(w: World, engine: AsyncEngine, server: Server) -> None:
        before = await snapshot(engine, *w.involved())
        headers = {"Authorization": f"Bearer {token('vendor', w.y.id)}"}
        content = None
        if file is not None:
            fields = {"productId": w.product, "recipientId": w.a.id, **new_chat_fields()}
            content, headers["Content-Type"] = multipart(fields, [file])
        async with httpx.AsyncClient(base_url=server.url) as http:
            url = path(w) if callable(path) else path
            response = await http.request(method, url, content=content, headers=headers)
        assert response.status_code == status, response.text
        assert w.chat_id not in response.text
        assert await snapshot(engine, *w.involved()) == before

    return check


def http_reveals_nothing(path: str) -> Check:
    """A route only ever about the caller: the stranger's answer holds none of the chat."""

    async def check(w: World, _db: AsyncEngine, server: Server) -> None:
        headers = {"Authorization": f"Bearer {token('vendor', w.y.id)}"}
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert w.chat_id not in response.text
        assert w.a_message not in response.text

    return check


def public(method: str, path: str) -> Check:
    """A route about the server, not about anybody's chats."""

    async def check(w: World, _db: AsyncEngine, server: Server) -> None:
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.request(method, path)
        assert response.status_code < 500
        assert w.chat_id not in response.text

    return check


async def _block_concerns_only_the_caller(w: World, engine: AsyncEngine, _server: Server) -> None:
    """The stranger blocks the chat's vendor, then lifts it: the chat and its parties are
    untouched, and nobody but the stranger hears of it."""
    before = await snapshot(engine, *w.involved())
    others = [x for x in w.everyone() if x is not w.c]
    marks = {id(x): len(x.events) for x in others}
    target = {"userId": w.b.id, "userType": "VENDOR"}
    for event in ("blockUser", "unblockUser"):
        ack = await w.c.call(event, target)
        assert ack["error"] is False, ack
        await w.c.wait("blockedUsers")
    await asyncio.sleep(0.3)
    assert await snapshot(engine, *w.involved()) == before
    for x in others:
        assert x.events[marks[id(x)] :] == [], f"{x.role} {x.id} heard of the stranger's block"


def _chat(w: World) -> Any:
    return {"chatId": w.chat_id}


def _as_vendor_y(w: World) -> Any:
    """Vendor y, who has no chat with customer a, names a's chat by product."""
    return {"productId": w.product, "recipientId": w.a.id}


ROWS = [
    Row("/chat joinChat", refused("/chat joinChat", _chat, (403, 404), "c")),
    Row("/chat markAsRead", refused("/chat markAsRead", _chat, (403, 404), "c")),
    Row(
        "/chat deleteMessage",
        refused("/chat deleteMessage", lambda w: {"messageId": w.a_message}, 403, "c"),
    ),
    Row(
        "/chat sendMessage",
        refused(
            "/chat sendMessage",
            lambda w: _as_vendor_y(w) | {"text": "buy now", **new_chat_fields()},
            403,
            "y",
        ),
    ),
    Row(
        "/chat editMessage",
        refused("/chat editMessage", lambda w: {"messageId": w.a_message, "text": "x"}, 403, "c"),
    ),
    Row(
        "/chat searchMessages",
        refused(
            "/chat searchMessages", lambda w: {"query": "hello", "chatId": w.chat_id}, 403, "c"
        ),
    ),
    Row(
        "/chat addReaction",
        refused("/chat addReaction", lambda w: {"messageId": w.a_message, "emoji": "👍"}, 403, "c"),
    ),
    Row(
        "/chat removeReaction",
        refused("/chat removeReaction", lambda w: {"messageId": w.a_message}, 403, "c"),
    ),
    Row(
        "/chat updateChatSettings",
        refused("/chat updateChatSettings", lambda w: _chat(w) | {"archived": True}, 403, "c"),
    ),
    Row(
        "/chat reportMessage",
        refused(
            "/chat reportMessage", lambda w: {"messageId": w.a_message, "reason": "spam"}, 403, "c"
        ),
    ),
    Row(
        "/chat reportUser",
        refused(
            "/chat reportUser",
            lambda w: {"userId": w.b.id, "userType": "VENDOR", "reason": "scam"} | _chat(w),
            403,
            "c",
        ),
    ),
    Row("/chat typing", refused("/chat typing", _as_vendor_y, 403, "y")),
    # Anyone may block a counterpart: it concerns only the caller, tells nobody else.
    Row("/chat blockUser", _block_concerns_only_the_caller),
    Row("/chat unblockUser", _block_concerns_only_the_caller),
    Row("/chat getBlockedUsers", reveals_nothing("/chat getBlockedUsers", {}, "blockedUsers")),
    Row("/chat stoppedTyping", refused("/chat stoppedTyping", _as_vendor_y, 403, "y")),
    Row("/chat syncMessages", _sync_resets),
    Row("/chat getUserChats", reveals_nothing("/chat getUserChats", {}, "userChats")),
    Row("/chat joinRooms", reveals_nothing("/chat joinRooms", {}, "userChats")),
    Row(
        "/chat getOfflineMessages",
        reveals_nothing("/chat getOfflineMessages", {}, "offlineMessages"),
    ),
    Row(
        "/presence checkOnlinePresence",
        refused(
            "/presence checkOnlinePresence",
            lambda w: {"userId": w.a.id, "userType": "CUSTOMER"},
            403,
            "y",
        ),
    ),
    Row(
        "POST /api/v1/chat/send-image",
        http_refused("POST", "/api/v1/chat/send-image", 403, File(media_files.png())),
    ),
    Row(
        "POST /api/v1/chat/send-pdf",
        http_refused("POST", "/api/v1/chat/send-pdf", 403, File(media_files.pdf())),
    ),
    Row(
        "POST /api/v1/chat/send-video",
        http_refused("POST", "/api/v1/chat/send-video", 403, File(media_files.mp4())),
    ),
    Row("GET /api/v1/chat", http_reveals_nothing("/api/v1/chat")),
    Row(
        "GET /api/v1/messages/search",
        http_refused("GET", lambda w: f"/api/v1/messages/search?q=hello&chatId={w.chat_id}", 403),
    ),
    Row(
        "GET /api/v1/chat/{productId:path}/{vendorId}/{customerId}",
        http_refused("GET", lambda w: f"/api/v1/chat/{w.product}/{w.b.id}/{w.a.id}", 403),
    ),
    Row(
        "DELETE /api/v1/chat/{messageId}",
        http_refused("DELETE", lambda w: f"/api/v1/chat/{w.a_message}", 403),
    ),
    # Media URLs are capabilities: unguessable keys; a guessed one finds nothing.
    Row(
        "GET /media/{key}",
        http_refused("GET", f"/media/{secrets.token_urlsafe(24)}.jpg", 404),
    ),
    Row("GET /", public("GET", "/")),  # the demo page, or a page pointing at the docs
    Row("GET /favicon.svg", public("GET", "/favicon.svg")),  # the server's icon
    Row("GET /healthz", public("GET", "/healthz")),
    Row("GET /readyz", public("GET", "/readyz")),
    Row("GET /metrics", public("GET", "/metrics")),
    # The contracts: documents about the server, the same for everyone.
    Row("GET /openapi.json", public("GET", "/openapi.json")),
    Row("GET /asyncapi.json", public("GET", "/asyncapi.json")),
    Row("GET /api/docs", public("GET", "/api/docs")),
    # The moderation console's page: no data in it (the API it calls takes API keys only).
    Row("GET /moderation", public("GET", "/moderation")),
    Row("GET /favicon.svg", public("GET", "/favicon.svg")),  # the pages' icon
    # The admin API takes API keys only: a user's JWT is not one (401), whoever they are.
    Row(
        "GET /api/v1/admin/users/{userType}/{userId}/chats",
        http_refused("GET", lambda w: f"/api/v1/admin/users/CUSTOMER/{w.a.id}/chats", 401),
    ),
    Row(
        "GET /api/v1/admin/chats/{chatId}/messages",
        http_refused("GET", lambda w: f"/api/v1/admin/chats/{w.chat_id}/messages", 401),
    ),
    Row("POST /api/v1/admin/chats", http_refused("POST", "/api/v1/admin/chats", 401)),
    Row(
        "PUT /api/v1/admin/chats/{chatId}/contact-policy",
        http_refused("PUT", lambda w: f"/api/v1/admin/chats/{w.chat_id}/contact-policy", 401),
    ),
    Row(
        "POST /api/v1/admin/chats/{chatId}/messages",
        http_refused("POST", lambda w: f"/api/v1/admin/chats/{w.chat_id}/messages", 401),
    ),
    Row(
        "GET /api/v1/admin/chats/{chatId}/export",
        http_refused("GET", lambda w: f"/api/v1/admin/chats/{w.chat_id}/export", 401),
    ),
    Row(
        "DELETE /api/v1/admin/users/{userType}/{userId}",
        http_refused("DELETE", lambda w: f"/api/v1/admin/users/CUSTOMER/{w.a.id}", 401),
    ),
    Row("GET /api/v1/admin/moderation/rules", http_refused("GET", RULES, 401)),
    Row("POST /api/v1/admin/moderation/rules", http_refused("POST", RULES, 401)),
    Row(
        "DELETE /api/v1/admin/moderation/rules/{id}",
        http_refused("DELETE", f"{RULES}/{'f' * 24}", 401),
    ),
    Row("GET /api/v1/admin/reports", http_refused("GET", "/api/v1/admin/reports", 401)),
    Row(
        "GET /api/v1/admin/reports/{reportId}",
        http_refused("GET", f"/api/v1/admin/reports/{'f' * 24}", 401),
    ),
    Row(
        "POST /api/v1/admin/reports/{reportId}/resolve",
        http_refused("POST", f"/api/v1/admin/reports/{'f' * 24}/resolve", 401),
    ),
    Row(
        "GET /api/v1/admin/reports/{reportId}/media/{mediaId}",
        http_refused("GET", f"/api/v1/admin/reports/{'f' * 24}/media/{'f' * 24}", 401),
    ),
    Row(
        "POST /api/v1/admin/users/{userType}/{userId}/suspend",
        http_refused("POST", lambda w: f"/api/v1/admin/users/CUSTOMER/{w.a.id}/suspend", 401),
    ),
    Row(
        "GET /api/v1/admin/users/{userType}/{userId}/suspend",
        http_refused("GET", lambda w: f"/api/v1/admin/users/CUSTOMER/{w.a.id}/suspend", 401),
    ),
    Row(
        "DELETE /api/v1/admin/users/{userType}/{userId}/suspend",
        http_refused("DELETE", lambda w: f"/api/v1/admin/users/CUSTOMER/{w.a.id}/suspend", 401),
    ),
]


def _served(tmp_path: Path) -> set[str]:
    """Every event the namespaces accept and every route the app serves."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", jwt_secret=SECRET))
    http = app.app.other_asgi_app  # inside the request-id middleware
    routes = {
        f"{method} {route.path}"
        for route in http.routes
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    }
    events = {f"/chat {e}" for e in ChatNamespace.events}
    events |= {f"/presence {e}" for e in PresenceNamespace.events}
    return events | routes


def test_the_matrix_names_every_event_and_route(tmp_path: Path) -> None:
    assert {row.what for row in ROWS} == _served(tmp_path)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.what)
async def test_a_stranger_is_refused(
    world: World,  # noqa: F811  (the fixture imported above)
    db: AsyncEngine,  # noqa: F811
    server: Server,
    row: Row,
) -> None:
    await row.check(world, db, server)
    await asyncio.sleep(0)
