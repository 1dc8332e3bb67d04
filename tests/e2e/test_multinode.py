"""Several nodes behind one address: Redis fan-out and presence, PostgreSQL storage."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.support import (
    ON_POSTGRES,
    ROOT,
    Client,
    Server,
    free_port,
    new_chat_fields,
    next_id,
    nodes_sharing,
    unavailable,
)

# Several nodes share PostgreSQL (SQLite is the single-node default).
TTL = 3.0


@pytest.fixture
def nodes(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path
) -> Iterator[list[Server]]:
    """Two nodes sharing PostgreSQL and Redis."""
    with nodes_sharing(
        server.database_url,
        log_dir,
        SLYCHAT_REDIS_URL=redis_url,
        SLYCHAT_REDIS_PREFIX=redis_prefix,
        SLYCHAT_PRESENCE_TTL=f"{TTL}s",
    ) as started:
        yield started


# `await on(node, "vendor", user_id)`: a ready client on that node.
On = Callable[..., Awaitable[Client]]


@dataclass(frozen=True)
class PrivateRedis:
    """`private_redis()` starts the test's own Redis server (again); `.url` reaches it."""

    url: str
    start: Callable[[], subprocess.Popen[bytes]]

    def __call__(self) -> subprocess.Popen[bytes]:
        return self.start()


def _for_product(product: str) -> Callable[[Any], bool]:
    """A `Client.wait` filter: a newChat about `product`."""
    return lambda d: bool(d["message"]["productId"] == product)


@pytest.fixture
async def on() -> AsyncIterator[On]:
    """`await on(node, "vendor", user_id)` -> a ready client connected to that node."""
    clients: list[Client] = []

    async def make(node: Server, role: str, user_id: int | None = None) -> Client:
        client = Client(node.url, role, user_id if user_id is not None else next_id())
        clients.append(client)
        return await (await client.connect()).ready()

    yield make
    await asyncio.gather(*(c.close() for c in clients))


@ON_POSTGRES
async def test_every_event_crosses_nodes(nodes: list[Server], on: On) -> None:
    a, b = nodes
    vendor = await on(b, "vendor")
    customer = await on(a, "customer")
    product = f"x-{next_id()}"
    to_vendor = {"productId": product, "recipientId": vendor.id}
    to_customer = {"productId": product, "recipientId": customer.id}

    first = await customer.call("sendMessage", to_vendor | {"text": "hi", **new_chat_fields()})
    assert first["data"]["recipientOnline"] is True
    chat = (await vendor.wait("newChat"))["message"]
    assert chat["id"] == first["data"]["chatId"]
    assert first["data"]["deliveredAt"] is not None

    await vendor.call("sendMessage", to_customer | {"text": "hello from B"})
    got = await customer.wait("receiveMessage", lambda d: d["data"][0]["text"] == "hello from B")
    assert got["data"][0]["senderType"] == "VENDOR"

    listed = await vendor.request("getUserChats", reply="userChats")
    assert [c["id"] for c in listed["data"]] == [chat["id"]]
    rooms = await vendor.request("joinRooms", reply="userChats")
    assert rooms["data"][0]["messages"][-1]["text"] == "hello from B"

    await vendor.call("markAsRead", to_customer)
    receipt = await customer.wait("updateReadReceipts")
    assert receipt["data"]["messageIds"] == [first["data"]["id"]]

    await customer.call("typing", to_vendor)
    assert (await vendor.wait("userTyping"))["data"]["senderId"] == customer.id
    await customer.call("stoppedTyping", to_vendor)
    await vendor.wait("stoppedTyping")

    loaded = await customer.request("joinChat", {"chatId": chat["id"]}, "loadMessages")
    assert [m["text"] for m in loaded["data"]["messages"]] == ["hi", "hello from B"]
    await vendor.wait("updateReadReceipts")

    await customer.call("deleteMessage", {"messageId": first["data"]["id"]})
    deleted = await vendor.wait("messageDeleted")
    assert deleted["data"]["messageId"] == first["data"]["id"]

    seen = await vendor.call(
        "checkOnlinePresence", {"userId": customer.id, "userType": "customer"}, ns="/presence"
    )
    assert seen["data"]["status"] == "online"


@ON_POSTGRES
async def test_presence_on_one_node_admits_chat_on_another(nodes: list[Server], on: On) -> None:
    a, b = nodes
    user = next_id()
    presence = Client(a.url, "vendor", user)
    chat = Client(b.url, "vendor", user)
    try:
        await presence.connect(("/presence",))
        await chat.connect(("/chat",))
        assert (await chat.wait("userChats"))["error"] is False
        await chat.wait("offlineMessages")
        assert chat.received("appError") == []
    finally:
        await asyncio.gather(presence.close(), chat.close())


@ON_POSTGRES
async def test_two_tabs_on_two_nodes_both_receive(nodes: list[Server], on: On) -> None:
    a, b = nodes
    vendor_a = await on(a, "vendor")
    vendor_b = await on(b, "vendor", vendor_a.id)
    customer = await on(a, "customer")
    product = f"t-{next_id()}"
    await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor_a.id, "text": "one", **new_chat_fields()},
    )
    for tab in (vendor_a, vendor_b):
        await tab.wait("newChat")
    for i in range(5):
        await customer.call(
            "sendMessage", {"productId": product, "recipientId": vendor_a.id, "text": f"m{i}"}
        )
    for tab in (vendor_a, vendor_b):
        for i in range(5):
            got = await tab.wait("receiveMessage")
            assert got["data"][0]["text"] == f"m{i}"
    # The vendor replies from tab B; the other tab, on node A, sees its own side's message.
    await vendor_b.call(
        "sendMessage", {"productId": product, "recipientId": customer.id, "text": "from tab b"}
    )
    await vendor_a.wait("receiveMessage", lambda d: d["data"][0]["text"] == "from tab b")
    await customer.wait("receiveMessage", lambda d: d["data"][0]["text"] == "from tab b")


@ON_POSTGRES
async def test_a_killed_node_stops_counting_within_the_ttl(nodes: list[Server], on: On) -> None:
    a, b = nodes
    customer = await on(a, "customer")
    vendor = await on(b, "vendor")
    product = f"k-{next_id()}"
    await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "before", **new_chat_fields()},
    )
    await vendor.wait("newChat")

    b.kill()
    offline = await customer.wait(
        "userIsOffline", lambda d: d["data"]["userId"] == vendor.id, timeout=TTL
    )
    assert offline["data"]["userType"] == "VENDOR"
    assert offline["data"]["lastSeen"]
    status = await customer.call(
        "checkOnlinePresence", {"userId": vendor.id, "userType": "vendor"}, ns="/presence"
    )
    assert status["data"]["status"] == "offline"

    meanwhile = await customer.call(
        "sendMessage", {"productId": product, "recipientId": vendor.id, "text": "away"}
    )
    assert meanwhile["data"]["recipientOnline"] is False
    assert meanwhile["data"]["deliveredAt"] is None

    back = await on(a, "vendor", vendor.id)
    offline_messages = back.last("offlineMessages")["data"]
    assert [m["id"] for m in offline_messages] == [meanwhile["data"]["id"]]
    await customer.wait("messagesDelivered")


@ON_POSTGRES
async def test_workers_share_one_port(
    server: Server, redis_url: str, redis_prefix: str, log_dir: Path, on: On
) -> None:
    env = {"SLYCHAT_REDIS_URL": redis_url, "SLYCHAT_REDIS_PREFIX": redis_prefix}
    workers = Server(server.database_url, env=env, args=["--workers", "2"]).start(log_dir)
    try:
        vendor = await on(workers, "vendor")
        customers = [await on(workers, "customer") for _ in range(6)]
        for n, c in enumerate(customers):
            await c.call(
                "sendMessage",
                {
                    "productId": f"w-{n}",
                    "recipientId": vendor.id,
                    "text": f"w{n}",
                    **new_chat_fields(),
                },
            )
        for n, _ in enumerate(customers):
            chat = await vendor.wait("newChat", _for_product(f"w-{n}"))
            assert chat["message"]["messages"][0]["text"] == f"w{n}"
    finally:
        workers.stop()


def test_workers_without_redis_refuse_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLYCHAT_")}
    result = subprocess.run(
        [sys.executable, "-m", "slychat", "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLYCHAT_REDIS_URL" in result.stderr


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis server of this test's own, which the test may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        client.close()
        return proc

    yield PrivateRedis(f"redis://127.0.0.1:{port}/0", start)
    for proc in procs:
        proc.kill()
        proc.wait()


@ON_POSTGRES
async def test_nodes_keep_serving_through_a_redis_outage(
    server: Server, private_redis: PrivateRedis, log_dir: Path, on: On
) -> None:
    redis_proc = private_redis()
    env = {"SLYCHAT_REDIS_URL": private_redis.url, "SLYCHAT_PRESENCE_TTL": f"{TTL}s"}
    a, b = (Server(server.database_url, env=env).start(log_dir) for _ in range(2))
    try:
        customer = await on(a, "customer")
        local_vendor = await on(a, "vendor")
        remote_vendor = await on(b, "vendor")
        for vendor in (local_vendor, remote_vendor):
            await customer.call(
                "sendMessage",
                {
                    "productId": f"o-{vendor.id}",
                    "recipientId": vendor.id,
                    "text": "hi",
                    **new_chat_fields(),
                },
            )
            await vendor.wait("newChat")

        redis_proc.kill()
        redis_proc.wait()
        ack = await customer.call(
            "sendMessage",
            {
                "productId": f"o-{local_vendor.id}",
                "recipientId": local_vendor.id,
                "text": "during the outage",
            },
        )
        assert ack["error"] is False
        got = await local_vendor.wait("receiveMessage")
        assert got["data"][0]["text"] == "during the outage"
        # The publish for the other node fails in the background (after one retry on a
        # new connection), and is counted.
        failures = 0.0
        for _ in range(100):
            metrics = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"{a.url}/metrics").read().decode()
            )
            failures = next(
                sample.value
                for family in text_string_to_metric_families(metrics)
                for sample in family.samples
                if sample.name == "slychat_fanout_publish_failures_total"
            )
            if failures > 0:
                break
            await asyncio.sleep(0.1)
        assert failures > 0

        private_redis()  # Redis is back, empty: nodes re-register and resubscribe
        deadline = asyncio.get_running_loop().time() + 20
        text = 0
        while True:
            text += 1
            await customer.call(
                "sendMessage",
                {
                    "productId": f"o-{remote_vendor.id}",
                    "recipientId": remote_vendor.id,
                    "text": f"after {text}",
                },
            )
            try:
                await remote_vendor.wait("receiveMessage", timeout=1)
                break
            except AssertionError:
                assert asyncio.get_running_loop().time() < deadline, "fan-out never recovered"
        status = await customer.call(
            "checkOnlinePresence",
            {"userId": remote_vendor.id, "userType": "vendor"},
            ns="/presence",
        )
        assert status["data"]["status"] == "online"
    finally:
        a.stop()
        b.stop()


@ON_POSTGRES
async def test_a_node_hears_at_once_when_a_user_connects_elsewhere(
    nodes: list[Server], on: On
) -> None:
    """Each node remembers presence counts; a change on another node makes it forget."""
    a, b = nodes
    customer = await on(a, "customer")
    vendor_id = next_id()
    to_vendor = {"productId": f"p-{vendor_id}", "recipientId": vendor_id}
    first = await customer.call("sendMessage", to_vendor | {"text": "anyone?", **new_chat_fields()})
    assert first["data"]["recipientOnline"] is False  # node A now remembers: offline

    vendor = await on(b, "vendor", vendor_id)
    second = await customer.call("sendMessage", to_vendor | {"text": "there you are"})
    assert second["data"]["recipientOnline"] is True
    assert second["data"]["deliveredAt"] is not None
    await vendor.wait("receiveMessage", lambda d: d["data"][0]["text"] == "there you are")

    await vendor.close()
    # The disconnect reaches node B's registry (the /presence socket, then the /chat one),
    # then node A hears of it and forgets what it remembered.
    for _ in range(100):
        third = await customer.call("sendMessage", to_vendor | {"text": "gone?"})
        if third["data"]["recipientOnline"] is False and third["data"]["deliveredAt"] is None:
            break
        await asyncio.sleep(0.05)
    assert third["data"]["recipientOnline"] is False
    assert third["data"]["deliveredAt"] is None
