"""deploy/nginx/slychat.conf in front of two nodes (PostgreSQL and Redis): WebSocket and
sticky long-polling sessions across nodes, uploads, and the client address reaching
slychat. Clients connect from different loopback addresses (127.0.0.x), so the balancer's
address hash can put them on different nodes; which node a client landed on is read from
the nodes' own /metrics."""

from __future__ import annotations

import asyncio
import io
import json
import random
import shutil
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.media_support import File, multipart
from tests.e2e.nginx_support import Nginx, running_nginx
from tests.support import (
    ON_POSTGRES,
    Client,
    Server,
    free_port,
    new_chat_fields,
    next_id,
    token,
    unavailable,
)

pytestmark = ON_POSTGRES
TTL = 3.0


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        unavailable("nginx is not installed (apt-get install nginx-light; `make test` does)")
    return binary


@pytest.fixture
def node_env() -> dict[str, str]:
    """Settings of both nodes on top of the front's own; a test may parametrize it."""
    return {}


@dataclass(frozen=True)
class Front:
    nginx: Nginx
    nodes: list[Server]

    @property
    def url(self) -> str:
        return self.nginx.url


@pytest.fixture
def front(
    server: Server,
    redis_url: str,
    redis_prefix: str,
    log_dir: Path,
    tmp_path: Path,
    nginx_binary: str,
    node_env: dict[str, str],
) -> Iterator[Front]:
    """Two nodes sharing the database, Redis and a media directory, behind nginx."""
    https_port = free_port()
    env = {
        "SLYCHAT_REDIS_URL": redis_url,
        "SLYCHAT_REDIS_PREFIX": redis_prefix,
        "SLYCHAT_PRESENCE_TTL": f"{TTL}s",
        "SLYCHAT_CLIENT_IP_HEADER": "X-Real-IP",
        "SLYCHAT_PUBLIC_URL": f"https://127.0.0.1:{https_port}",
        "SLYCHAT_MEDIA_DIR": str(tmp_path / "media"),
    } | node_env
    nodes = [Server(server.database_url, env=env) for _ in range(2)]
    try:
        for node in nodes:
            node.start(log_dir)
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        with running_nginx(nginx_binary, addresses, https_port, free_port()) as nginx:
            yield Front(nginx, nodes)
    finally:
        for node in nodes:
            node.stop()


def _chat_sockets(node: Server) -> float:
    text = urllib.request.urlopen(f"{node.url}/metrics", timeout=5).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "slychat_open_sockets" and sample.labels["namespace"] == "/chat"
    )


Placed = tuple[Client, int]


@pytest.fixture
async def through(front: Front) -> AsyncIterator[Callable[..., Any]]:
    """`await through(role, address, transports, user_id=None)` -> (ready client, index of
    the node nginx sent it to), connected through nginx from loopback `address`."""
    clients: list[Client] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make(
        role: str, address: str, transports: list[str], user_id: int | None = None
    ) -> Placed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), ssl=front.nginx.tls)
        )
        sessions.append(session)
        client = Client(
            front.url, role, user_id or next_id(), http_session=session, request_timeout=10
        )
        clients.append(client)
        before = [await asyncio.to_thread(_chat_sockets, n) for n in front.nodes]
        await (await client.connect(transports=transports)).ready()
        after = [await asyncio.to_thread(_chat_sockets, n) for n in front.nodes]
        [node] = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if a > b]
        return client, node

    yield make
    await asyncio.gather(*(c.close() for c in clients))
    await asyncio.gather(*(s.close() for s in sessions))


async def on_two_nodes(
    through: Callable[..., Any], transports: list[str], vendor_id: int | None = None
) -> tuple[Client, Client]:
    """A customer and a vendor whose sessions nginx put on different nodes."""
    customer, first = await through("customer", "127.0.0.2", transports)
    for n in range(3, 60):
        vendor, node = await through("vendor", f"127.0.0.{n}", transports, vendor_id)
        if node != first:
            return customer, vendor
        # Left connected: a socket closing now would blur the next client's placement.
    raise AssertionError("nginx put every client address on the same node")


def text_is(text: str) -> Callable[[Any], bool]:
    return lambda message: bool(message["data"][0]["text"] == text)


async def exchange(customer: Client, vendor: Client, rounds: int = 3) -> None:
    """A new chat and replies both ways, each seen by the other side."""
    product = f"n-{next_id()}"
    to_vendor = {"productId": product, "recipientId": vendor.id}
    to_customer = {"productId": product, "recipientId": customer.id}
    first = await customer.call("sendMessage", to_vendor | {"text": "hi", **new_chat_fields()})
    assert first["error"] is False, first
    assert first["data"]["recipientOnline"] is True
    await vendor.wait("newChat")
    for i in range(rounds):
        await vendor.call("sendMessage", to_customer | {"text": f"v{i}"})
        got = await customer.wait("receiveMessage", text_is(f"v{i}"))
        assert got["data"][0]["senderType"] == "VENDOR"
        await customer.call("sendMessage", to_vendor | {"text": f"c{i}"})
        got = await vendor.wait("receiveMessage", text_is(f"c{i}"))
        assert got["data"][0]["senderType"] == "CUSTOMER"


async def test_websocket_sessions_on_two_nodes_talk_through_nginx(
    through: Callable[..., Any],
) -> None:
    customer, vendor = await on_two_nodes(through, ["websocket"])
    assert customer.sio.transport() == vendor.sio.transport() == "websocket"
    await exchange(customer, vendor)

    online = await customer.call(
        "checkOnlinePresence", {"userId": vendor.id, "userType": "vendor"}, ns="/presence"
    )
    assert online["data"]["status"] == "online"
    await vendor.close()
    offline = await customer.wait(
        "userIsOffline", lambda d: d["data"]["userId"] == vendor.id, timeout=TTL + 5
    )
    assert offline["data"]["userType"] == "VENDOR"


async def test_long_polling_sessions_stick_to_their_node(through: Callable[..., Any]) -> None:
    # Every poll and post of a session must reach the node that holds it: one request on
    # the other node would end the session ("Invalid session").
    customer, vendor = await on_two_nodes(through, ["polling"])
    assert customer.sio.transport() == vendor.sio.transport() == "polling"
    await exchange(customer, vendor, rounds=5)
    assert customer.sio.connected
    assert vendor.sio.connected

    # The default client starts polling and upgrades to a WebSocket through nginx.
    upgraded, _ = await through("vendor", "127.0.0.99", ["polling", "websocket"])
    for _ in range(100):
        if upgraded.sio.transport() == "websocket":
            break
        await asyncio.sleep(0.05)
    assert upgraded.sio.transport() == "websocket"
    await exchange(customer, upgraded, rounds=1)


def _big_pdf() -> bytes:
    """A PDF of random pixels: about 2.5 MB, over nginx's default 1 MB body limit."""
    noise = random.Random(13).randbytes(1400 * 1400 * 3)
    image = Image.frombytes("RGB", (1400, 1400), noise)
    out = io.BytesIO()
    image.save(out, "PDF", quality=95)
    return out.getvalue()


async def test_an_upload_through_nginx_reaches_the_other_node(
    front: Front, through: Callable[..., Any]
) -> None:
    customer, vendor = await on_two_nodes(through, ["websocket"])
    data = await asyncio.to_thread(_big_pdf)
    assert len(data) > 2 * 1024 * 1024
    form = {"productId": f"u-{next_id()}", "recipientId": vendor.id} | new_chat_fields()
    body, content_type = multipart(form, [File(data, "catalog.pdf", "application/pdf")])
    headers = {
        "Content-Type": content_type,
        "Authorization": f"Bearer {token('customer', customer.id)}",
    }
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2", verify=front.nginx.tls)
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        sent = await http.post(f"{front.url}/api/v1/chat/send-pdf", content=body, headers=headers)
        assert sent.status_code == 201, sent.text
        [media] = sent.json()["data"]["messages"][0]["messageMedias"]
        chat = await vendor.wait("newChat")
        assert chat["message"]["messages"][0]["messageMedias"][0]["url"] == media["url"]
        # The file is served through nginx whichever node answers (a shared media store).
        assert media["url"].startswith(front.url)
        fetched = await http.get(media["url"], follow_redirects=True)
        assert fetched.status_code == 200
        assert fetched.content == data


@pytest.mark.parametrize(
    "node_env",
    [{"SLYCHAT_RATE_HANDSHAKES_PER_IP": "3/m:3"}],
)
async def test_nginx_passes_the_client_address(front: Front) -> None:
    handshake = {"EIO": "4", "transport": "polling"}

    async def attempts(address: str, count: int) -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address=address, verify=front.nginx.tls)
        statuses = []
        async with httpx.AsyncClient(transport=transport, timeout=10) as http:
            for n in range(count):
                # A client naming another address of its own is not believed.
                opened = await http.get(
                    f"{front.url}/socket.io/",
                    params=handshake,
                    headers={"X-Real-IP": f"198.51.100.{n}", "X-Forwarded-For": "1.2.3.4"},
                )
                statuses.append(opened.status_code)
                if opened.status_code == 200:  # close the session (engine.io CLOSE packet)
                    sid = json.loads(opened.text[1:])["sid"]
                    await http.post(
                        f"{front.url}/socket.io/", params=handshake | {"sid": sid}, content="1"
                    )
        return statuses

    assert await attempts("127.0.0.7", 4) == [200, 200, 200, 429]
    # Another client address has its own allowance: slychat counted the address nginx saw,
    # not nginx's own (every request reaches the nodes from 127.0.0.1).
    assert await attempts("127.0.0.8", 1) == [200]


async def test_the_balancer_redirects_http_and_hides_metrics(front: Front) -> None:
    async with httpx.AsyncClient(verify=front.nginx.tls, timeout=10) as http:
        plain = await http.get(f"{front.nginx.http_url}/healthz")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")
        assert (await http.get(f"{front.url}/readyz")).status_code == 200
        assert (await http.get(f"{front.url}/metrics")).status_code == 403
    for node in front.nodes:  # each node still serves its own
        assert _chat_sockets(node) >= 0
