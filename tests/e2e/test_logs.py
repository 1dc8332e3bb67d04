"""What a server writes to its log, at the most talkative level, holds no token, no session
id and no message text: a real server, real clients, then the whole log file searched."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable

import aiohttp
import pytest
import socketio

from tests.e2e.test_hostile_tokens import polling_handshake
from tests.support import Client, Server, new_chat_fields, next_id, token


async def test_debug_logs_hold_no_tokens_sids_or_message_text(
    server: Server, spawn_server: Callable[..., Server]
) -> None:
    srv = spawn_server(SLYCHAT_LOG_LEVEL="debug")
    secrets_seen: set[str] = set()
    customer_id, vendor_id = next_id(), next_id()
    customer_token = token("customer", customer_id)
    vendor_token = token("vendor", vendor_id, jti=f"jti-{secrets.token_hex(6)}")
    secrets_seen |= {customer_token, vendor_token}

    # the customer over long-polling with the token in the query string (then upgraded);
    # the vendor over a websocket, with the token in `auth`
    customer = Client(f"{srv.url}?token={customer_token}", "customer", customer_id)
    await customer.sio.connect(
        customer.url,
        namespaces=["/presence", "/chat"],
        transports=["polling", "websocket"],
        wait_timeout=10,
    )
    await customer.ready()
    vendor = await (
        await Client(srv.url, "vendor", vendor_id).connect(auth={"token": vendor_token})
    ).ready()
    for client in (customer, vendor):
        secrets_seen.add(client.sio.eio.sid)
        secrets_seen |= {client.sio.get_sid(ns) for ns in ("/presence", "/chat")}

    texts = [f"secret-text-{secrets.token_hex(8)}" for _ in range(3)]
    product = f"p-{next_id()}"
    ack = await customer.call(
        "sendMessage",
        {"productId": product, "recipientId": vendor_id, "text": texts[0], **new_chat_fields()},
    )
    assert ack["error"] is False, ack
    await vendor.wait("newChat")
    ack = await vendor.call(
        "sendMessage", {"productId": product, "recipientId": customer_id, "text": texts[1]}
    )
    assert ack["error"] is False, ack
    await customer.wait("receiveMessage", lambda d: d["data"][0]["text"] == texts[1])

    # errors: a bad payload carrying text, an unknown event, refused tokens, a bad upload
    too_long = texts[2] * 1000
    refused = await customer.call(
        "sendMessage", {"productId": product, "recipientId": vendor_id, "text": too_long}
    )
    assert refused["statusCode"] == 413
    odd = await vendor.call("noSuchEvent", {"text": texts[2]})
    assert odd["error"] is True
    expired = token("customer", customer_id, ttl=-300)
    forged = token("vendor", vendor_id, secret="another-secret-0123456789abcdef0123")
    secrets_seen |= {expired, forged}
    for bad in (expired, forged):
        intruder = Client(srv.url, "customer", customer_id)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await intruder.connect(auth={"token": bad})
        await intruder.close()
    # long-polling requests by hand: the session id and the token in every request line
    query = f"&token={customer_token}"
    kind, _ = await polling_handshake(srv.url, "/presence", None, query, secrets_seen)
    assert kind == "0"  # admitted
    kind, _ = await polling_handshake(srv.url, "/chat", {"token": forged}, "", secrets_seen)
    assert kind == "4"  # refused
    async with aiohttp.ClientSession() as http:
        sid = customer.sio.eio.sid
        async with http.get(f"{srv.url}/healthz?token={customer_token}&sid={sid}") as r:
            assert r.status == 200
        async with http.post(
            f"{srv.url}/api/v1/chat/send-image?token={forged}",
            headers={"Authorization": f"Bearer {forged}"},
            data={"productId": product, "text": texts[2]},
        ) as upload:
            assert upload.status == 401

    # leave the long-polling session from its websocket (python-engineio's client otherwise
    # waits for the server's next long-poll timeout)
    deadline = time.monotonic() + 5
    while customer.sio.eio.current_transport != "websocket":
        assert time.monotonic() < deadline, "no websocket upgrade"
        await asyncio.sleep(0.02)
    await customer.close()
    await vendor.close()
    await asyncio.to_thread(srv.stop)

    assert srv.log_path is not None
    log = srv.log_path.read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines()]  # production mode: JSON lines
    # the level and the request lines were there to be searched
    assert any(line["level"] == "debug" for line in lines)
    requests = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert "/socket.io/?[redacted]" in {line["path"] for line in requests}
    assert "/healthz?[redacted]" in {line["path"] for line in requests}
    assert all(line["request_id"] for line in requests)
    # each connection's lines carry its socket id, the same in both namespaces
    opened: dict[str, set[str]] = {}
    for line in lines:
        if line["logger"] == "slychat.server.engine" and line["event"].startswith("connect "):
            opened.setdefault(line["socket"], set()).add(line["event"])
    assert len(opened) >= 2
    assert {"connect on /presence", "connect on /chat"} in opened.values()
    for secret in sorted(secrets_seen | set(texts)):
        assert secret not in log, f"the log holds {secret[:12]}…"
    # nor any part of a token long enough to matter (a signature, a claims segment)
    for secret in secrets_seen:
        for part in secret.split("."):
            if len(part) >= 16:
                assert part not in log, f"the log holds a part of a token: {part[:12]}…"
