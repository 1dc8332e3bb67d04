"""Operability: /metrics in the Prometheus format moves as events flow (scrape, act,
scrape), may need a token, and /readyz names each check and fails with 503 when one does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests import media_files
from tests.e2e.media_support import File, upload
from tests.support import ON_SQLITE, Server, new_chat_fields, next_id
from tests.support.chat import ready

# `ON_SQLITE`: the subject is the metrics route and its checks, not storage; the schema
# check and the counters that follow stored events run on both engines.

Spawn = Callable[..., Server]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(srv: Server, **headers: str) -> Samples:
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def event(samples: Samples, name: str, outcome: str) -> float:
    return value(samples, "slychat_events_total", namespace="/chat", event=name, outcome=outcome)


async def readyz(srv: Server) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        return await http.get("/readyz")


async def test_metrics_move_as_events_flow(spawn_server: Spawn) -> None:
    srv = spawn_server()
    before = await scrape(srv)
    for series in (
        "slychat_fanout_publish_failures_total",
        "slychat_registry_failures_total",
        "slychat_ratelimit_failures_total",
        "slychat_rate_limited_total",
    ):
        assert (series, frozenset()) in before, series
    assert value(before, "slychat_open_sockets", namespace="/chat") == 0

    vendor, customer = await ready(srv, "vendor"), await ready(srv, "customer")
    try:
        connected = await scrape(srv)
        for ns in ("/presence", "/chat"):
            assert value(connected, "slychat_open_sockets", namespace=ns) == 2
            assert value(connected, "slychat_connected_users", namespace=ns) == 2

        product = f"p-{next_id()}"
        to_vendor = {"productId": product, "recipientId": vendor.id} | new_chat_fields()
        for i in range(3):
            ack = await customer.call("sendMessage", to_vendor | {"text": f"m{i}"})
            assert ack["error"] is False, ack
            await vendor.wait("receiveMessage" if i else "newChat")  # the first opens a chat
        invalid = await customer.call("sendMessage", {"text": "no recipient"})
        assert invalid["statusCode"] == 400, invalid
        unknown = await customer.call("noSuchEvent", {"x": 1})
        assert unknown["statusCode"] == 400, unknown
        pdf = media_files.pdf()
        response = await upload(
            srv,
            "send-pdf",
            [File(pdf, "doc.pdf", "application/pdf")],
            user_id=customer.id,
            recipient_id=vendor.id,
            product_id=product,
        )
        assert response.status_code == 201, response.text
        await vendor.wait("receiveMedia")

        after = await scrape(srv)
    finally:
        await asyncio.gather(customer.close(), vendor.close())

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert event(after, "sendMessage", "ok") - event(before, "sendMessage", "ok") == 3
    assert event(after, "sendMessage", "4xx") - event(before, "sendMessage", "4xx") == 1
    assert event(after, "unknown", "4xx") - event(before, "unknown", "4xx") == 1
    assert event(after, "sendMessage", "5xx") == 0
    assert not any(labels and dict(labels).get("event") == "noSuchEvent" for _, labels in after), (
        "an unknown event's name must not become a label"
    )
    assert moved("slychat_messages_stored_total") == 4  # three sent, one upload
    assert moved("slychat_send_commit_seconds_count") == 4
    assert moved("slychat_send_commit_seconds_sum") > 0
    assert moved("slychat_group_commit_batch_size_sum") == 4
    assert moved("slychat_emits_total") >= 4
    assert moved("slychat_emit_recipients_total") >= 4
    assert moved("slychat_media_stored_bytes_total") == len(pdf)
    assert moved("slychat_rate_limited_total") == 0
    assert value(after, "slychat_db_pool_size") >= 1
    assert ("slychat_db_pool_in_use", frozenset()) in after
    assert after[("slychat_db_pool_waiting", frozenset())] == 0

    for _ in range(100):  # the sockets are counted out once they are gone
        gone = await scrape(srv)
        if value(gone, "slychat_open_sockets", namespace="/chat") == 0:
            break
        await asyncio.sleep(0.05)
    assert value(gone, "slychat_open_sockets", namespace="/chat") == 0
    assert value(gone, "slychat_connected_users", namespace="/chat") == 0


@ON_SQLITE
async def test_rate_limit_refusals_are_counted(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_RATE_TYPING="1/m:1")
    customer = await ready(srv, "customer")
    try:
        typing = {"productId": f"p-{next_id()}", "recipientId": next_id()}
        before = await scrape(srv)
        await customer.call("typing", typing)
        refused = await customer.call("typing", typing)
        assert refused["statusCode"] == 429, refused
        after = await scrape(srv)
    finally:
        await customer.close()
    limited = "slychat_rate_limited_total"
    assert value(after, limited) - value(before, limited) == 1
    assert event(after, "typing", "4xx") - event(before, "typing", "4xx") >= 1


@ON_SQLITE
async def test_metrics_token_is_required_when_set(spawn_server: Spawn) -> None:
    srv = spawn_server(SLYCHAT_METRICS_TOKEN="metrics-token-0123456789")
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await http.get("/metrics", headers=wrong)).status_code == 401
        # Headers that are not ASCII (latin-1, UTF-8 bytes) are compared as bytes: 401.
        for raw in ("Bearer m\u00e9trics".encode("latin-1"), "Bearer \u00fc".encode()):
            assert (await http.get("/metrics", headers={b"Authorization": raw})).status_code == 401
    samples = await scrape(srv, Authorization="Bearer metrics-token-0123456789")
    assert ("slychat_rate_limited_total", frozenset()) in samples


async def test_readyz_reports_each_check(server: Server) -> None:
    response = await readyz(server)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "media": "ok"},
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}


@ON_SQLITE
async def test_readyz_pings_redis_when_configured(
    spawn_server: Spawn, redis_url: str, redis_prefix: str
) -> None:
    srv = spawn_server(SLYCHAT_REDIS_URL=redis_url, SLYCHAT_REDIS_PREFIX=redis_prefix)
    response = await readyz(srv)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "migrations": "ok",
        "media": "ok",
    }
    samples = await scrape(srv)  # the Redis fan-out counts its emits too
    assert ("slychat_fanout_publish_failures_total", frozenset()) in samples


@ON_SQLITE
async def test_readyz_fails_when_the_media_store_cannot_be_written(
    spawn_server: Spawn, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    srv = spawn_server(SLYCHAT_MEDIA_DIR=str(blocker / "media"))
    response = await readyz(srv)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not ready"
    assert body["failed"] == ["media"]
    assert body["checks"]["media"] == "failed"
    assert body["checks"]["database"] == "ok"
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz")).status_code == 200  # alive, only not ready


def _unmigrated_server(database_url: str, log_dir: Path) -> Iterator[Server]:
    srv = Server(database_url)
    try:
        yield srv.start(log_dir)
    finally:
        srv.stop()


async def test_readyz_fails_when_the_database_is_not_at_head(
    empty_database_url: str, log_dir: Path
) -> None:
    for srv in _unmigrated_server(empty_database_url, log_dir):
        response = await readyz(srv)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["failed"] == ["migrations"]
        assert body["checks"]["migrations"] == "not at head"
        assert body["checks"]["database"] == "ok"
