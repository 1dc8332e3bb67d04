"""A hostile client in its own process (so that its own work does not slow the test's
clients down): `python -m tests.e2e.flooder URL TOKEN RECIPIENT COUNT` connects, prints
`go`, emits COUNT sendMessage events as fast as it can, and prints what it got back as
JSON: {sent, refused, retryAfter, disconnected}."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import socketio

from tests.support import new_chat_fields


async def flood(url: str, token: str, recipient: int, count: int) -> dict[str, Any]:
    sio = socketio.AsyncClient(reconnection=False)
    refused: list[float] = []
    ready = asyncio.Event()
    quiet = asyncio.Event()

    async def app_error(body: Any) -> None:
        if isinstance(body, dict) and body.get("statusCode") == 429:
            refused.append(float(body["retryAfter"]))
        quiet.set()

    async def offline(_body: Any) -> None:
        ready.set()

    sio.on("appError", app_error, namespace="/chat")
    sio.on("offlineMessages", offline, namespace="/chat")
    await sio.connect(
        url,
        namespaces=["/presence", "/chat"],
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=10,
    )
    async with asyncio.timeout(10):
        await ready.wait()
    payload = {"productId": f"flood-{recipient}", "recipientId": recipient, "text": "spam"}
    payload |= new_chat_fields()
    print("go", flush=True)
    sent = 0
    for _ in range(count):
        if not sio.connected:
            break
        try:
            await sio.emit("sendMessage", payload, namespace="/chat")
        except socketio.exceptions.SocketIOError:  # disconnected meanwhile
            break
        sent += 1
    # Read refusals until none came for a second (or the server dropped us).
    while sio.connected:
        quiet.clear()
        try:
            async with asyncio.timeout(1.0):
                await quiet.wait()
        except TimeoutError:
            break
    result = {
        "sent": sent,
        "refused": len(refused),
        "retryAfter": max(refused, default=0.0),
        "disconnected": not sio.connected,
    }
    await sio.disconnect()
    return result


def main() -> None:
    url, token, recipient, count = sys.argv[1:5]
    print(json.dumps(asyncio.run(flood(url, token, int(recipient), int(count)))), flush=True)


if __name__ == "__main__":
    main()
