"""The OpenAPI and AsyncAPI documents against the running server: every route the app
serves has an operation, the served documents are the generated ones, and what a live
session really emits, acks and answers validates against its documented schema."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette

from slychat.app import create_app
from slychat.config.settings import Settings
from slychat.contracts import asyncapi, openapi
from slychat.contracts.asyncapi import ack_key, server_key
from slychat.contracts.http_api import OPERATIONS, WEBHOOKS
from slychat.routes.contracts import SWAGGER_UI, served_keys
from tests import media_files
from tests.conftest import UserFactory
from tests.e2e.media_support import File, upload
from tests.e2e.test_openapi_fuzz import api_key
from tests.support import (
    IN_CI,
    SECRET,
    RawClient,
    Server,
    new_chat_fields,
    next_id,
    schema_validator,
    token,
)

# The settings that change which routes exist: the defaults, dev mode (no key: dev
# tokens and the demo page), and the demo page with a real key.
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {"jwt_secret": SECRET},
    "dev mode": {},
    "demo page": {"jwt_secret": SECRET, "demo": True},
}


def http_app(app: Any) -> Starlette:
    """The Starlette app inside the Socket.IO app and whatever middleware wraps it."""
    node = app
    for _ in range(10):
        if isinstance(node, Starlette):
            return node
        node = getattr(node, "other_asgi_app", None) or node.app
    raise AssertionError("no Starlette app inside")


def served(tmp_path: Path, **settings: Any) -> set[tuple[str, str]]:
    db = f"sqlite:///{tmp_path / 'contracts.db'}"
    return served_keys(http_app(create_app(Settings(database_url=db, **settings))).routes)


def test_every_route_has_an_operation_and_every_operation_a_route(tmp_path: Path) -> None:
    declared = {op.key for op in OPERATIONS}
    assert len(declared) == len(OPERATIONS), "two operations for one route"
    seen: set[tuple[str, str]] = set()
    for name, settings in CONFIGS.items():
        keys = served(tmp_path, **settings)
        assert keys - declared == set(), f"{name}: routes without an OpenAPI operation"
        seen |= keys
    assert declared - seen == set(), "operations of routes the app never serves"


def test_operations_depending_on_a_setting_say_so(tmp_path: Path) -> None:
    always = served(tmp_path, **CONFIGS["default"])
    for op in OPERATIONS:
        assert (op.served_when is None) == (op.key in always), op.key


async def test_the_served_documents_are_the_generated_ones(server: Server, tmp_path: Path) -> None:
    keys = served(tmp_path, **CONFIGS["default"])
    async with httpx.AsyncClient(base_url=server.url) as http:
        served_openapi = (await http.get("/openapi.json")).json()
        served_asyncapi = (await http.get("/asyncapi.json")).json()
    operations = (op for op in OPERATIONS if op.key in keys)
    assert served_openapi == openapi.document(operations, WEBHOOKS)
    assert served_asyncapi == asyncapi.document()
    assert "/api/dev/token" not in served_openapi["paths"]  # not served without dev mode


async def test_the_docs_page_runs_only_its_own_scripts(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe" not in policy
        assert "<script>" not in page.text  # no inline code: the policy would block it
        if not SWAGGER_UI.is_file():
            assert not IN_CI, "make copies swagger-ui-dist into the package; CI runs make"
            assert 'href="/openapi.json"' in page.text
            return
        for src in ("/api/docs/assets/dist/swagger-ui-bundle.js", "/api/docs/assets/init.js"):
            assert src in page.text
            asset = await http.get(src)
            assert asset.status_code == 200, src
            assert "javascript" in asset.headers["content-type"]
        css = await http.get("/api/docs/assets/dist/swagger-ui.css")
        assert css.status_code == 200
        assert "/openapi.json" in (await http.get("/api/docs/assets/init.js")).text


# --- a live session, checked against the documents ----------------------------------------


class Contract:
    """Checks payloads against the AsyncAPI messages and the OpenAPI responses."""

    def __init__(self) -> None:
        self.async_doc = asyncapi.document()
        self.http_doc = openapi.document(OPERATIONS, WEBHOOKS)
        self.checked: set[tuple[str, str]] = set()

    def _message_schema(self, key: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.async_doc["components"]["messages"][key]["payload"]
        return schema

    def event(self, ns: str, event: str, payload: Any) -> None:
        channel = self.async_doc["channels"][ns.strip("/")]
        key = server_key(event)
        assert key in channel["messages"], f"{ns} emits {event}, which is not documented"
        schema_validator(self.async_doc, self._message_schema(key)).validate(payload)
        self.checked.add((ns, event))

    def ack(self, event: str, payload: Any) -> None:
        schema_validator(self.async_doc, self._message_schema(ack_key(event))).validate(payload)

    def http(self, method: str, path: str, response: httpx.Response) -> None:
        operation = self.http_doc["paths"][path][method.lower()]
        documented = operation["responses"][str(response.status_code)]
        schema = documented["content"]["application/json"]["schema"]
        schema_validator(self.http_doc, schema).validate(response.json())


async def test_a_live_session_emits_only_documented_shapes(
    server: Server, connect: UserFactory, raw_client: Callable[[], RawClient]
) -> None:
    contract = Contract()
    customer = await connect("customer")
    vendor = await connect("vendor")
    first_cursor = customer.last("userChats")["syncCursor"]
    product = f"p-{next_id()}"
    to_vendor = {"productId": product, "recipientId": vendor.id}

    async def call(client: Any, event: str, payload: Any = None, ns: str = "/chat") -> Any:
        ack = await client.call(event, payload, ns=ns)
        contract.ack(event, ack)
        return ack

    sent = await call(customer, "sendMessage", to_vendor | {"text": "hi", **new_chat_fields()})
    assert sent["error"] is False, sent
    chat_id = sent["data"]["chatId"]
    await vendor.wait("newChat")
    to_customer = {"productId": product, "recipientId": customer.id, "text": "hello"}
    reply = await call(vendor, "sendMessage", to_customer)
    await customer.wait("receiveMessage", lambda d: d["data"][0]["id"] == reply["data"]["id"])
    await call(customer, "joinChat", {"chatId": chat_id})
    await customer.wait("loadMessages")
    await vendor.wait("updateReadReceipts")
    await call(vendor, "markAsRead", {"chatId": chat_id})
    await call(customer, "typing", to_vendor)
    await vendor.wait("userTyping")
    await call(customer, "stoppedTyping", to_vendor)
    await vendor.wait("stoppedTyping")
    # The conversation features: a reply, its edit, a reaction taken back, mute/archive.
    answer = await call(
        vendor, "sendMessage", to_customer | {"text": "which size?", "replyTo": sent["data"]["id"]}
    )
    await call(vendor, "editMessage", {"messageId": answer["data"]["id"], "text": "which one?"})
    await customer.wait("messageEdited")
    await call(customer, "addReaction", {"messageId": answer["data"]["id"], "emoji": "👍🏽"})
    await vendor.wait("messageReactions")
    await call(customer, "removeReaction", {"messageId": answer["data"]["id"]})
    await call(customer, "updateChatSettings", {"chatId": chat_id, "muted": True})
    await customer.wait("chatSettings")
    await call(customer, "updateChatSettings", {"chatId": chat_id, "archived": True})
    await call(customer, "getUserChats", {"archived": True})
    await call(customer, "updateChatSettings", {"chatId": chat_id, "archived": False})
    await call(customer, "getUserChats", {})
    await call(customer, "joinRooms", {"limit": 5})
    await call(customer, "getOfflineMessages")
    presence = await call(
        customer, "checkOnlinePresence", {"userId": vendor.id, "userType": "VENDOR"}, "/presence"
    )
    assert presence["error"] is False, presence
    failed = await call(customer, "sendMessage", {"productId": product})
    assert failed["error"] is True
    await customer.wait("appError")
    bad = await call(customer, "checkOnlinePresence", {"userType": "nobody"}, "/presence")
    assert bad["error"] is True
    await customer.wait("appError", ns="/presence")

    # A message with files, sent over HTTP: receiveMedia, and the upload's 201.
    uploaded = await upload(
        server,
        "send-image",
        [File(media_files.png())],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
    )
    contract.http("POST", "/api/v1/chat/send-image", uploaded)
    await vendor.wait("receiveMedia")

    # The vendor away: the customer sees them go, the message waits, and is delivered
    # when they are back (offlineMessages, then messagesDelivered to the customer).
    await vendor.close()
    await customer.wait("userIsOffline")
    waiting = await call(customer, "sendMessage", to_vendor | {"text": "still there?"})
    back = await connect("vendor", vendor.id)
    await customer.wait("userIsOnline")
    await customer.wait("messagesDelivered")
    assert any(m["id"] == waiting["data"]["id"] for m in back.last("offlineMessages")["data"])

    deleted = await call(customer, "deleteMessage", {"messageId": sent["data"]["id"]})
    assert deleted["error"] is False, deleted
    await back.wait("messageDeleted")
    synced = await call(customer, "syncMessages", {"since": first_cursor})
    assert synced["error"] is False, synced
    changes = (await customer.wait("syncMessages"))["data"]["changes"]
    assert {c["type"] for c in changes} >= {
        "chat",
        "message",
        "read",
        "delivered",
        "deleted",
        "edited",
        "reactions",
        "settings",
    }
    found = await call(customer, "searchMessages", {"query": "hell", "limit": 1})
    assert found["error"] is False, found
    assert (await customer.wait("searchMessages"))["data"]["messages"]
    # A block and its lifting: the acks, blockedUsers, the refusal and presence it causes.
    target = {"userId": back.id, "userType": "VENDOR"}
    blocked = await call(customer, "blockUser", target)
    assert blocked["data"]["blocked"] is True, blocked
    await customer.wait("blockedUsers")
    listed = await call(customer, "getBlockedUsers")
    assert listed["data"]["count"] == 1, listed
    refused_send = await call(back, "sendMessage", {**to_customer, "text": "blocked?"})
    assert refused_send["statusCode"] == 403, refused_send
    lifted = await call(customer, "unblockUser", target)
    assert lifted["data"]["blocked"] is False, lifted
    await customer.wait("blockedUsers", lambda d: d["data"] == [])

    # The same chat over HTTP.
    headers = {"Authorization": f"Bearer {token('customer', customer.id)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        contract.http("GET", "/api/v1/chat", await http.get("/api/v1/chat"))
        page = await http.get(f"/api/v1/chat/{product}/{vendor.id}/{customer.id}")
        contract.http("GET", "/api/v1/chat/{productId}/{vendorId}/{customerId}", page)
        assert page.status_code == 200
        gone = await http.delete(f"/api/v1/chat/{waiting['data']['id']}")
        assert gone.status_code == 200, gone.text
        contract.http("DELETE", "/api/v1/chat/{messageId}", gone)
        refused = await http.delete(f"/api/v1/chat/{waiting['data']['id']}")
        assert refused.status_code == 404
        contract.http("DELETE", "/api/v1/chat/{messageId}", refused)
        search = "/api/v1/messages/search"
        results = await http.get(search, params={"q": "hello"})
        assert results.status_code == 200, results.text
        contract.http("GET", search, results)
        contract.http("GET", search, await http.get(search, params={"q": "?"}))
        for path in ("/healthz", "/readyz"):
            contract.http("GET", path, await http.get(path))

    # A refused connection: connect_error carries the error object.
    raw = raw_client()
    assert not await raw.connect(server.url, auth={"token": "not a token"})
    await asyncio.sleep(0.1)
    for ns in ("/presence", "/chat"):
        for data in raw.errors[ns]:
            contract.event(ns, "connect_error", data)
    assert raw.errors["/chat"] or raw.errors["/presence"]

    for client in (customer, vendor, back):
        for ns, event, payload in client.events:
            contract.event(ns, event, payload)
    documented = {(ns.address, s.name) for ns in asyncapi.NAMESPACES for s in ns.server}
    assert documented - contract.checked == set(), "documented events this session never saw"


def test_a_wrong_shape_is_caught() -> None:
    """The checks above can fail: a field the documents do not name is refused."""
    contract = Contract()
    online = {"statusCode": 200, "error": False, "message": "User is online"}
    contract.event("/chat", "userIsOnline", online | {"data": {"userId": 1, "userType": "VENDOR"}})
    with pytest.raises(jsonschema.ValidationError):
        contract.event(
            "/chat",
            "userIsOnline",
            online | {"data": {"userId": 1, "userType": "VENDOR", "extra": True}},
        )
    with pytest.raises(AssertionError):
        contract.event("/chat", "notAnEvent", {})


async def test_admin_responses_match_the_document(server: Server, connect: UserFactory) -> None:
    """Each admin operation's success, as a live server answers it, and what a participant
    receives of it."""
    contract = Contract()
    customer = await connect("customer")
    vendor_id = next_id()
    product = f"p-{next_id()}"
    headers = {"Authorization": f"Bearer {api_key(server)}"}
    base = "/api/v1/admin"
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as http:

        async def check(method: str, path: str, url: str, status: int, **kw: Any) -> Any:
            response = await http.request(method, url, **kw)
            assert response.status_code == status, response.text
            contract.http(method, path, response)
            return response.json()

        fields = {"productId": product, "vendorId": vendor_id, "customerId": customer.id}
        fields |= new_chat_fields()
        opened = await check(
            "POST", f"{base}/chats", f"{base}/chats", 201, json=fields | {"text": "Hello"}
        )
        chat_id = opened["data"]["id"]
        await check("POST", f"{base}/chats", f"{base}/chats", 200, json=fields)
        notice = {"text": "Order #123 shipped", "clientMessageId": f"n-{next_id()}"}
        messages = f"{base}/chats/{{chatId}}/messages"
        await check("POST", messages, f"{base}/chats/{chat_id}/messages", 201, json=notice)
        await check("POST", messages, f"{base}/chats/{chat_id}/messages", 200, json=notice)
        await check("GET", messages, f"{base}/chats/{chat_id}/messages", 200)
        user = f"{base}/users/{{userType}}/{{userId}}"
        await check("GET", f"{user}/chats", f"{base}/users/CUSTOMER/{customer.id}/chats", 200)
        export = f"{base}/chats/{{chatId}}/export"
        await check("GET", export, f"{base}/chats/{chat_id}/export", 200)
        await check("GET", export, f"{base}/chats/{'f' * 24}/export", 404)
        await customer.wait("receiveMessage", lambda d: d["data"][0]["senderType"] == "SYSTEM")
        await check("DELETE", user, f"{base}/users/VENDOR/{vendor_id}", 200)
    for ns, event, payload in customer.events:
        contract.event(ns, event, payload)


async def test_the_pages_link_an_icon_the_server_serves(server: Server) -> None:
    """Without one, browsers ask for /favicon.ico: a 404 on every page load."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/api/docs", "/", "/moderation"):
            page = await http.get(path)
            assert page.status_code == 200
            icon_link = r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">'
            [href] = re.findall(icon_link, page.text)
            assert href.startswith("/")  # this origin: the page's img-src 'self' allows it
            assert "img-src 'self'" in page.headers["content-security-policy"]
            icon = await http.get(href)
            assert icon.status_code == 200, path
            assert icon.headers["content-type"] == "image/svg+xml"
            assert icon.text.lstrip().startswith("<svg")
