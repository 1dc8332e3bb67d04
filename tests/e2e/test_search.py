"""Message search across the wire (docs/protocol.md, "Search"): `searchMessages` on /chat
and `GET /api/v1/messages/search`, on a real server of each engine. The refusals of the
event, each changing nothing, are in test_bad_input.py; the index itself (folding, edits,
erasure, the index equal to the visible text) in tests/storage/test_search.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import UserFactory
from tests.support import Client, Server, next_id, token
from tests.support.chat import check_message, send


async def _search(client: Client, **payload: Any) -> Any:
    """searchMessages: the event's body (its ack checked against it by `request`)."""
    return await client.request("searchMessages", payload)


def _texts(body: Any) -> list[str]:
    assert body["statusCode"] == 200, body
    assert body["error"] is False, body
    assert body["message"] == "Search results"
    return [check_message(m)["text"] for m in body["data"]["messages"]]


async def _http(server: Server, params: dict[str, Any], bearer: str | None) -> httpx.Response:
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.get("/api/v1/messages/search", params=params, headers=headers)


async def _conversation(customer: Client, vendor: Client, tag: str) -> tuple[str, str]:
    """Two chats of `customer` with `vendor` holding `tag`, one message deleted; the
    first chat's id and the deleted message's id."""
    first = await send(
        customer, f"p-{next_id()}", vendor.id, f"Is the Crème {tag} in stock?", new=True
    )
    product = f"p-{next_id()}"
    await send(customer, product, vendor.id, f"crème {tag} size?", new=True)
    await send(vendor, product, customer.id, f"CREME {tag}: yes, all sizes")
    gone = await send(vendor, product, customer.id, f"creme {tag} discount")
    assert (await vendor.call("deleteMessage", {"messageId": gone["id"]}))["error"] is False
    return first["chatId"], gone["id"]


async def test_search_covers_the_callers_chats_only_newest_first(connect: UserFactory) -> None:
    customer, vendor, stranger = (
        await connect("customer"),
        await connect("vendor"),
        await connect("customer"),
    )
    tag = f"t{next_id()}"  # a word no other test's messages hold
    first_chat, _gone = await _conversation(customer, vendor, tag)
    await send(stranger, f"p-{next_id()}", vendor.id, f"creme {tag} elsewhere", new=True)
    ours = [f"CREME {tag}: yes, all sizes", f"crème {tag} size?", f"Is the Crème {tag} in stock?"]
    marks = {id(c): len(c.events) for c in (customer, stranger)}

    # Both sides of every chat of the caller's, accents and case folded, the last word a
    # prefix; the deleted message never.
    assert _texts(await _search(vendor, query=f"creme {tag[:5]}")) == [
        f"creme {tag} elsewhere",
        *ours,
    ]
    # The customer's chats hold none of the stranger's messages.
    body = await _search(customer, query=f"{tag} CRÈME")
    assert _texts(body) == ours
    assert body["data"] == {"messages": body["data"]["messages"], "hasMore": False, "next": None}
    # One chat only.
    assert _texts(await _search(customer, query=f"creme {tag}", chatId=first_chat)) == ours[2:]
    # Each message is the caller's copy, with the caller's own syncCursor.
    assert all(m["syncCursor"] for m in body["data"]["messages"])
    # Nobody else hears of a search.
    await asyncio.sleep(0.2)
    assert [e for e in stranger.events[marks[id(stranger)] :]] == []
    assert [e[1] for e in customer.events[marks[id(customer)] :]] == ["searchMessages"] * 2


async def test_pages_follow_next_until_has_more_is_false(connect: UserFactory) -> None:
    customer, vendor = await connect("customer"), await connect("vendor")
    tag = f"t{next_id()}"
    product = f"p-{next_id()}"
    sent = [(await send(customer, product, vendor.id, f"{tag} 0", new=True))["id"]]
    for i in range(1, 12):
        sender, recipient = (customer, vendor) if i % 2 else (vendor, customer)
        sent.append((await send(sender, product, recipient.id, f"{tag} {i}"))["id"])

    seen: list[str] = []
    before: str | None = None
    pages = 0
    while True:
        payload: dict[str, Any] = {"query": tag, "limit": 5}
        if before is not None:
            payload["before"] = before
        data = (await _search(vendor, **payload))["data"]
        pages += 1
        seen += [m["id"] for m in data["messages"]]
        if not data["hasMore"]:
            assert data["next"] is None
            break
        assert isinstance(data["next"], str)
        last_next: str = data["next"]
        before = last_next
        # A message sent between pages is newer than the pages: it shifts nothing.
        await send(customer, product, vendor.id, f"{tag} late")

    assert seen == list(reversed(sent))
    assert pages == 3
    # A page's next belongs to its user: the other party's use of it is refused.
    assert before is not None
    refused = await customer.call("searchMessages", {"query": tag, "before": before})
    assert refused["error"] is True
    assert refused["statusCode"] == 400


async def test_the_http_route_answers_as_the_event_for_its_bearer_only(
    server: Server, connect: UserFactory
) -> None:
    customer, vendor, stranger = (
        await connect("customer"),
        await connect("vendor"),
        await connect("vendor"),
    )
    tag = f"t{next_id()}"
    first_chat, _gone = await _conversation(customer, vendor, tag)

    # No token, a bad token: 401.
    for bearer in (None, "not-a-jwt", token("customer", customer.id, secret="other" * 8)):
        response = await _http(server, {"q": tag}, bearer)
        assert response.status_code == 401, response.text
        assert response.json()["error"] is True

    response = await _http(
        server, {"q": f"crème {tag}", "limit": "2"}, token("customer", customer.id)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert _texts(body) == [f"CREME {tag}: yes, all sizes", f"crème {tag} size?"]
    assert body["data"]["hasMore"] is True
    socket_body = await _search(customer, query=f"crème {tag}", limit=2)
    assert body == socket_body
    rest = await _http(
        server,
        {"q": f"crème {tag}", "before": body["data"]["next"]},
        token("customer", customer.id),
    )
    assert _texts(rest.json()) == [f"Is the Crème {tag} in stock?"]

    # Only the bearer's own chats: a stranger finds nothing, and may not name the chat.
    alien = token("vendor", stranger.id)
    assert _texts((await _http(server, {"q": tag}, alien)).json()) == []
    named = await _http(server, {"q": tag, "chatId": first_chat}, alien)
    assert named.status_code == 403, named.text
    # Refusals are the event's, as HTTP statuses.
    for params in (
        {"q": "x"},
        {},
        {"q": "?!"},
        {"q": tag, "limit": "51"},
        {"q": tag, "before": "x"},
    ):
        refused = await _http(server, params, token("customer", customer.id))
        assert refused.status_code == 400, (params, refused.text)
    assert (await _http(server, {"q": tag}, token("admin", 1))).status_code == 403
