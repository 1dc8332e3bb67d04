"""Suspension (docs/admin-api.md, "Moderation"): a suspended user's live sockets close on
every node within SLYCHAT_REVOCATION_POLL, their handshakes get connect_error 403 on both
namespaces and their HTTP calls 403, until the suspension is lifted or its `until`
passes; nobody else is touched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_admin_api import admin, create_key
from tests.e2e.test_hostile_tokens import BOTH, PROMPT
from tests.support import ON_POSTGRES, Client, RawClient, Server, next_id, nodes_sharing, token
from tests.support.chat import send

POLL = 0.5
SUSPENDED = {"error": True, "message": "Account suspended", "statusCode": 403}


@pytest.fixture
def nodes(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> Iterator[list[Server]]:
    """Two nodes sharing PostgreSQL and Redis, looking for suspensions every POLL."""
    with nodes_sharing(
        server.database_url,
        log_dir,
        SLYCHAT_REDIS_URL=redis_url,
        SLYCHAT_REDIS_PREFIX=redis_prefix,
        SLYCHAT_REVOCATION_POLL=f"{POLL}s",
    ) as started:
        yield started


async def connected(
    raw_client: Callable[[], RawClient], node: Server, role: str, uid: int
) -> RawClient:
    s = raw_client()
    assert await s.connect(node.url, BOTH, {"token": token(role, uid)})
    await s.wait("offlineMessages", "/chat")
    return s


async def dropped_as_suspended(s: RawClient) -> None:
    for ns in BOTH:
        await s.wait_dropped(ns, POLL + PROMPT)
        assert s.app_errors(ns)[-1] == SUSPENDED


async def refused_at_handshake(raw_client: Callable[[], RawClient], node: Server, uid: int) -> None:
    for ns in BOTH:
        again = raw_client()
        assert not await again.connect(node.url, (ns,), {"token": token("customer", uid)})
        assert again.errors[ns][0]["data"] == SUSPENDED


async def chats_status(node: Server, uid: int) -> int:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        response = await http.get(
            "/api/v1/chat", headers={"Authorization": f"Bearer {token('customer', uid)}"}
        )
    if response.status_code == 403:
        assert response.json() == SUSPENDED
    return response.status_code


async def until_admitted(
    raw_client: Callable[[], RawClient], node: Server, uid: int, within: float
) -> None:
    deadline = time.monotonic() + within
    while True:
        s = raw_client()
        if await s.connect(node.url, BOTH, {"token": token("customer", uid)}):
            await s.wait("offlineMessages", "/chat")
            return
        assert time.monotonic() < deadline, "still refused"
        await asyncio.sleep(0.1)


@ON_POSTGRES
async def test_a_report_decision_drops_the_user_on_both_nodes_until_lifted(
    nodes: list[Server], raw_client: Callable[[], RawClient]
) -> None:
    a, b = nodes
    key = create_key(a, "moderation:read", "moderation:write", name="moderator")
    customer_id = next_id()
    vendor = await Client(a.url, "vendor", next_id()).connect()
    customer = await Client(b.url, "customer", customer_id).connect()
    try:
        await vendor.ready()
        await customer.ready()
        message = await send(customer, f"p-{next_id()}", vendor.id, "pay me elsewhere", new=True)
        filed = await vendor.call("reportMessage", {"messageId": message["id"], "reason": "scam"})
        assert filed["statusCode"] == 201, filed
    finally:
        await customer.close()
        await vendor.close()
    on_a = await connected(raw_client, a, "customer", customer_id)
    on_b = await connected(raw_client, b, "customer", customer_id)
    bystander = await connected(raw_client, a, "customer", next_id())

    started = time.monotonic()
    decided = await admin(
        a,
        "POST",
        f"/api/v1/admin/reports/{filed['data']['id']}/resolve",
        key,
        json={"action": "suspend_user", "note": "scammer"},
    )
    assert decided.status_code == 200, decided.text
    [decision] = decided.json()["data"]["decisions"]
    assert decision["action"] == "suspend_user"
    assert decision["until"] is None
    for s in (on_a, on_b):
        await dropped_as_suspended(s)
    assert time.monotonic() - started < POLL + PROMPT
    for node in nodes:
        await refused_at_handshake(raw_client, node, customer_id)
        assert await chats_status(node, customer_id) == 403
    shown = await admin(b, "GET", f"/api/v1/admin/users/CUSTOMER/{customer_id}/suspend", key)
    assert shown.json()["data"]["reason"] == "scammer"
    ack = await bystander.sio.call("getUserChats", namespace="/chat", timeout=10)
    assert ack["error"] is False
    assert not bystander.dropped["/chat"]

    # Lifted on one node: admitted again on the other within the poll.
    lifted = await admin(b, "DELETE", f"/api/v1/admin/users/CUSTOMER/{customer_id}/suspend", key)
    assert lifted.status_code == 200, lifted.text
    await until_admitted(raw_client, a, customer_id, POLL + PROMPT)
    assert await chats_status(a, customer_id) == 200
    # The report the suspension came from records its lift.
    report = await admin(a, "GET", f"/api/v1/admin/reports/{filed['data']['id']}", key)
    assert [d["action"] for d in report.json()["data"]["decisions"]] == ["suspend_user", "lift"]


async def test_a_suspension_ends_by_itself_at_until(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    node = spawn_server(SLYCHAT_REVOCATION_POLL=f"{POLL}s")
    key = create_key(node, "moderation:write", name="moderator")
    customer_id = next_id()
    live = await connected(raw_client, node, "customer", customer_id)
    until = datetime.now(UTC) + timedelta(seconds=3)
    made = await admin(
        node,
        "POST",
        f"/api/v1/admin/users/customer/{customer_id}/suspend",
        key,
        json={"reason": "cool off", "until": until.isoformat()},
    )
    assert made.status_code == 200, made.text
    # The node that suspended knows at once: the next event is refused.
    ack = await live.sio.call("getUserChats", namespace="/chat", timeout=10)
    assert ack == SUSPENDED
    await dropped_as_suspended(live)
    await refused_at_handshake(raw_client, node, customer_id)
    assert await chats_status(node, customer_id) == 403
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        upload = await http.post(
            "/api/v1/chat/send-image",
            headers={"Authorization": f"Bearer {token('customer', customer_id)}"},
            data={"productId": "p", "recipientId": "1"},
        )
    assert upload.status_code == 403
    assert upload.json() == SUSPENDED

    # Without a lift, it is over at `until`.
    left = (until - datetime.now(UTC)).total_seconds()
    await until_admitted(raw_client, node, customer_id, left + POLL + PROMPT)
    assert datetime.now(UTC) >= until
    assert await chats_status(node, customer_id) == 200
