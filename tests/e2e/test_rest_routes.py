"""The original system's HTTP routes over a user's chats (docs/protocol.md, "Chats over HTTP"): `GET
/api/v1/chat`, `GET /api/v1/chat/{productId}/{vendorId}/{customerId}` and `DELETE
/api/v1/chat/{messageId}`, on a real server, answered with the socket events' envelopes."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import UserFactory
from tests.e2e.test_hostile_tokens import revoke
from tests.support import SECRET, Client, Server, http_refusal, next_id, token
from tests.support.chat import send

UNKNOWN_ID = "f" * 24


async def _http(
    server: Server,
    method: str,
    path: str,
    *,
    as_user: Client | None = None,
    bearer: str | None = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    headers = {}
    if as_user is not None:
        bearer = token(as_user.role, as_user.id)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.request(method, path, headers=headers, params=params)


def _chat_path(product: str, vendor: Client, customer: Client) -> str:
    return f"/api/v1/chat/{quote(product, safe='')}/{vendor.id}/{customer.id}"


# --- GET /api/v1/chat --------------------------------------------------------------------


async def test_the_chat_list_is_the_user_chats_envelope(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    sent = await send(customer, product, vendor.id, "hello", new=True)
    await send(customer, product, vendor.id, "are you there?", new=True)

    response = await _http(server, "GET", "/api/v1/chat", as_user=vendor)
    assert response.status_code == 200, response.text
    body = response.json()
    socket_body = await vendor.request("getUserChats", {}, "userChats")
    assert body.keys() == socket_body.keys()
    assert body["message"] == "Chats has been sent successfully"
    assert body["statusCode"] == 200
    assert body["error"] is False
    assert body["totalUnread"] == 2
    assert body["hasMore"] is False
    assert body["syncCursor"].startswith("v1.")  # signed with the time it was read at
    [chat] = body["data"]
    assert chat["id"] == sent["chatId"]
    assert chat["unreadCount"] == 2
    assert [m["text"] for m in chat["messages"]] == ["hello", "are you there?"]
    assert body["data"] == socket_body["data"]


async def test_the_chat_list_pages_with_limit_and_before(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendors = [await connect("vendor") for _ in range(3)]
    product = f"p-{next_id()}"
    ids = [(await send(customer, product, v.id, "hi", new=True))["chatId"] for v in vendors]
    newest_first = list(reversed(ids))

    first = await _http(server, "GET", "/api/v1/chat", as_user=customer, params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [c["id"] for c in page["data"]] == newest_first[:2]
    assert page["hasMore"] is True

    params = {"limit": "2", "before": page["data"][-1]["id"]}
    second = await _http(server, "GET", "/api/v1/chat", as_user=customer, params=params)
    assert second.status_code == 200, second.text
    assert [c["id"] for c in second.json()["data"]] == newest_first[2:]
    assert second.json()["hasMore"] is False

    # The paging refusals of getUserChats.
    for bad in ({"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"limit": "-1"}):
        http_refusal(await _http(server, "GET", "/api/v1/chat", as_user=customer, params=bad), 400)
    unknown = {"before": UNKNOWN_ID}
    http_refusal(await _http(server, "GET", "/api/v1/chat", as_user=customer, params=unknown), 404)


async def test_a_stranger_s_chat_cannot_be_an_anchor(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    stranger = await connect("customer")
    chat_id = (await send(customer, f"p-{next_id()}", vendor.id, "hi", new=True))["chatId"]
    params = {"before": chat_id}
    response = await _http(server, "GET", "/api/v1/chat", as_user=stranger, params=params)
    assert chat_id not in http_refusal(response, 404)["message"]


# --- GET /api/v1/chat/{productId}/{vendorId}/{customerId} --------------------------------


async def test_one_chat_with_its_latest_page_read_only(
    server: Server, connect: UserFactory
) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p/{next_id()} x"  # a slash and a space: percent-encoded in the path
    texts = [f"m{i}" for i in range(5)]
    for text in texts:
        sent = await send(customer, product, vendor.id, text, new=True)
    path = _chat_path(product, vendor, customer)

    response = await _http(server, "GET", path, as_user=vendor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Chats has been loaded"
    assert body["statusCode"] == 200
    assert body["error"] is False
    chat = body["data"]
    assert chat["id"] == sent["chatId"]
    assert chat["productId"] == product
    assert (chat["vendorId"], chat["customerId"]) == (vendor.id, customer.id)
    assert [m["text"] for m in chat["messages"]] == texts
    assert chat["hasMore"] is False
    # Reading over HTTP marks nothing read: the count stays, and nobody is told.
    assert chat["unreadCount"] == 5
    assert all(m["read"] is False for m in chat["messages"])
    await asyncio.sleep(0.2)
    assert customer.received("updateReadReceipts") == []
    listed = await _http(server, "GET", "/api/v1/chat", as_user=vendor)
    assert listed.json()["totalUnread"] == 5

    # The customer reads the same chat; its shape is joinChat's loadMessages.
    mine = (await _http(server, "GET", path, as_user=customer)).json()
    loaded = await customer.request(
        "joinChat", {"productId": product, "recipientId": vendor.id}, "loadMessages"
    )
    assert mine["message"] == loaded["message"]
    assert mine["data"].keys() == loaded["data"].keys()
    assert [m["id"] for m in mine["data"]["messages"]] == [
        m["id"] for m in loaded["data"]["messages"]
    ]
    assert mine["data"]["unreadCount"] == 0  # the vendor wrote nothing


async def test_one_chat_pages_with_before_and_limit(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    ids = [(await send(customer, product, vendor.id, f"m{i}", new=True))["id"] for i in range(5)]
    path = _chat_path(product, vendor, customer)

    newest = (await _http(server, "GET", path, as_user=customer, params={"limit": 2})).json()
    assert [m["id"] for m in newest["data"]["messages"]] == ids[3:]
    assert newest["data"]["hasMore"] is True

    params = {"limit": 2, "before": ids[3]}
    older = (await _http(server, "GET", path, as_user=customer, params=params)).json()
    assert [m["id"] for m in older["data"]["messages"]] == ids[1:3]
    assert older["data"]["hasMore"] is True

    by_seq = {"before": "2"}  # a seq, as joinChat takes it
    oldest = (await _http(server, "GET", path, as_user=customer, params=by_seq)).json()
    assert [m["id"] for m in oldest["data"]["messages"]] == ids[:1]
    assert oldest["data"]["hasMore"] is False

    for bad in ({"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"before": "0"}):
        http_refusal(await _http(server, "GET", path, as_user=customer, params=bad), 400)
    missing = {"before": UNKNOWN_ID}
    http_refusal(await _http(server, "GET", path, as_user=customer, params=missing), 404)


async def test_one_chat_is_for_its_participants_only(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    chat_id = (await send(customer, product, vendor.id, "private", new=True))["chatId"]
    path = _chat_path(product, vendor, customer)

    stranger_customer = Client(server.url, "customer", next_id())
    stranger_vendor = Client(server.url, "vendor", next_id())
    # The vendor's id as a customer (CUSTOMER n and VENDOR n are different people).
    same_id = Client(server.url, "customer", vendor.id)
    for stranger in (stranger_customer, stranger_vendor, same_id):
        response = await _http(server, "GET", path, as_user=stranger)
        body = http_refusal(response, 403)
        assert chat_id not in response.text
        assert "private" not in response.text
        assert body["message"] == "You are not a participant of this chat"
    # A chat that does not exist is refused alike for a stranger: nothing tells them apart.
    nowhere = _chat_path(f"none-{next_id()}", vendor, customer)
    assert http_refusal(await _http(server, "GET", nowhere, as_user=stranger_vendor), 403)

    # A participant asking for a chat that does not exist: 404.
    http_refusal(await _http(server, "GET", nowhere, as_user=customer), 404)
    # Ill-formed ids in the path: 400.
    for bad in (f"/api/v1/chat/{product}/x/{customer.id}", f"/api/v1/chat/{product}/1/-2"):
        http_refusal(await _http(server, "GET", bad, as_user=customer), 400)


# --- DELETE /api/v1/chat/{messageId} -----------------------------------------------------


async def test_delete_tells_both_parties_sockets(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    other_tab = await connect("customer", customer.id)
    product = f"p-{next_id()}"
    kept = await send(customer, product, vendor.id, "keep", new=True)
    gone = await send(customer, product, vendor.id, "oops", new=True)

    response = await _http(server, "DELETE", f"/api/v1/chat/{gone['id']}", as_user=customer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Message has been deleted successfully"
    assert body["statusCode"] == 200
    assert body["error"] is False
    assert body["data"]["messageId"] == gone["id"]
    assert body["data"]["chatId"] == gone["chatId"]
    for client in (customer, other_tab, vendor):
        emitted = await client.wait(
            "messageDeleted", lambda d: d["data"]["messageId"] == gone["id"]
        )
        assert emitted == body

    page = (
        await _http(server, "GET", _chat_path(product, vendor, customer), as_user=vendor)
    ).json()
    assert [m["id"] for m in page["data"]["messages"]] == [kept["id"]]
    # Deleted already: 404, and nothing more is emitted.
    again = await _http(server, "DELETE", f"/api/v1/chat/{gone['id']}", as_user=customer)
    http_refusal(again, 404)


async def test_delete_refusals(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    stranger = await connect("vendor")
    product = f"p-{next_id()}"
    sent = await send(customer, product, vendor.id, "mine", new=True)
    path = f"/api/v1/chat/{sent['id']}"

    body = http_refusal(await _http(server, "DELETE", path, as_user=vendor), 403)
    assert body["message"] == "Only the sender can delete a message"
    http_refusal(await _http(server, "DELETE", path, as_user=stranger), 403)
    http_refusal(await _http(server, "DELETE", f"/api/v1/chat/{UNKNOWN_ID}", as_user=customer), 404)
    # Named with a chat it is not in (as deleteMessage's productId + recipientId): 404.
    elsewhere = {"productId": f"other-{next_id()}", "recipientId": vendor.id}
    http_refusal(await _http(server, "DELETE", path, as_user=customer, params=elsewhere), 404)
    http_refusal(await _http(server, "DELETE", f"/api/v1/chat/{'x' * 65}", as_user=customer), 400)

    await asyncio.sleep(0.2)
    for client in (customer, vendor, stranger):
        assert client.received("messageDeleted") == []
    page = (
        await _http(server, "GET", _chat_path(product, vendor, customer), as_user=vendor)
    ).json()
    assert [m["id"] for m in page["data"]["messages"]] == [sent["id"]]


# --- tokens and limits -------------------------------------------------------------------


def _routes(
    product: str, vendor_id: int, customer_id: int, message_id: str
) -> list[tuple[str, str]]:
    return [
        ("GET", "/api/v1/chat"),
        ("GET", f"/api/v1/chat/{product}/{vendor_id}/{customer_id}"),
        ("DELETE", f"/api/v1/chat/{message_id}"),
    ]


async def test_every_route_wants_a_valid_token(server: Server, connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    sent = await send(customer, product, vendor.id, "hi", new=True)
    bad_tokens = {
        None: "Authentication token is missing",
        "not-a-jwt": None,
        token("customer", customer.id, ttl=-120): "Token has expired",
        token("customer", customer.id, secret=SECRET + "x"): None,
        # Times are integers (PyJWT alone takes floats and digit strings).
        token("customer", customer.id, iat=time.time()): "Token has an invalid 'iat' claim",
        token("customer", customer.id, exp=str(int(time.time()) + 600)): (
            "Token has an invalid 'exp' claim"
        ),
    }
    for method, path in _routes(product, vendor.id, customer.id, sent["id"]):
        for bearer, message in bad_tokens.items():
            response = await _http(server, method, path, bearer=bearer)
            body = http_refusal(response, 401)
            assert sent["chatId"] not in response.text
            if message is not None:
                assert body["message"] == message
        # Only `Authorization: Bearer` is read (not `?token=`, not a `token` header).
        async with httpx.AsyncClient(base_url=server.url) as http:
            query = await http.request(
                method, path, params={"token": token("customer", customer.id)}
            )
            header = await http.request(
                method, path, headers={"token": token("customer", customer.id)}
            )
        http_refusal(query, 401)
        http_refusal(header, 401)
        # Admins have no chats.
        admin = await _http(server, method, path, bearer=token("admin", 1))
        http_refusal(admin, 403)
    assert customer.received("messageDeleted") == []


async def test_a_revoked_token_is_refused(
    server: Server, connect: UserFactory, spawn_server: Callable[..., Server]
) -> None:
    node = spawn_server(SLYCHAT_REVOCATION_POLL="0.5s")
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    sent = await send(customer, product, vendor.id, "hi", new=True)
    jti = f"revoked-{next_id()}"
    revoked = token("customer", customer.id, jti=jti)
    assert (await _http(node, "GET", "/api/v1/chat", bearer=revoked)).status_code == 200

    await asyncio.to_thread(revoke, node, jti)
    deadline = time.monotonic() + 5
    while (await _http(node, "GET", "/api/v1/chat", bearer=revoked)).status_code == 200:
        assert time.monotonic() < deadline, "the revocation was never read"
        await asyncio.sleep(0.1)
    for method, path in _routes(product, vendor.id, customer.id, sent["id"]):
        body = http_refusal(await _http(node, method, path, bearer=revoked), 401)
        assert body["message"] == "Token has been revoked"
    assert customer.received("messageDeleted") == []


async def test_requests_spend_the_users_event_rate(
    spawn_server: Callable[..., Server],
) -> None:
    limited = spawn_server(SLYCHAT_RATE_EVENTS="1/m:3")
    user = Client(limited.url, "customer", next_id())
    other = Client(limited.url, "vendor", next_id())
    for _ in range(3):
        assert (await _http(limited, "GET", "/api/v1/chat", as_user=user)).status_code == 200
    response = await _http(limited, "GET", "/api/v1/chat", as_user=user)
    body = http_refusal(response, 429)
    assert body["retryAfter"] > 0
    assert int(response.headers["retry-after"]) >= 1
    # Per user: another user is not held back.
    assert (await _http(limited, "GET", "/api/v1/chat", as_user=other)).status_code == 200


def _raw(server: Server, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """A request with its path sent exactly as given (httpx would remove dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1/../x", 404),
        ("GET", "/api/v1/./x", 404),
        ("GET", "/api/v1/x/%2e%2e/y", 404),
        ("GET", "/api/v1/chat/..", 405),  # the DELETE route's path: a message id of ".."
        ("DELETE", "/api/v1/chat/a%2F..%2Fb/1/2", 405),
        ("POST", "/api/v1/chat/a%2F..%2Fb/1/2", 405),
        ("PUT", "/api/v1/chat", 405),
        ("GET", "/api/v1/admin/../../x", 404),
        ("GET", "/api/v1/admin/nope%2F..%2Fx", 404),
        ("GET", "/media/../pyproject.toml", 404),
        ("GET", "/demo/%2e%2e/pyproject.toml", 404),
        ("GET", "/moderation/%2e%2e/pyproject.toml", 404),
        ("GET", "/moderation/js/nope.js", 404),
        ("POST", "/moderation", 405),
        ("GET", "//api/v1/chat", 404),
    ],
)
async def test_requests_no_route_takes_get_the_error_object(
    server: Server, method: str, path: str, status: int
) -> None:
    """Unmatched paths, dot segments and encoded slashes included, get the JSON error
    object (never Starlette's plain-text page), 405 with its `Allow` header."""
    got, headers, body = await asyncio.to_thread(_raw, server, method, path)
    assert got == status, (path, body)
    assert headers["content-type"] == "application/json", (path, body)
    error = json.loads(body)
    assert error == {"error": True, "message": error["message"], "statusCode": status}
    assert error["message"]
    if status == 405:
        assert headers["allow"]
