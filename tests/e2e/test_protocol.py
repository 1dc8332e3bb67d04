"""The Socket.IO protocol (v5 over Engine.IO v4) at its edges, spoken by hand over a
websocket: what closes a connection, and what only gets an `appError` (docs/protocol.md,
Transports). The cases follow the protocol's specification: a connection the client
stopped answering is closed by the ping timeout; the client's Engine.IO CLOSE closes it;
a packet the protocol does not allow (an unknown type, a payload that is not JSON or not
of its packet's shape, a bad ack id) closes it; a valid packet with a bad payload is
refused with an `appError` (and its ack) and the connection stays."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.e2e.raw_engineio import next_packet, open_engineio, open_namespace, until_closed
from tests.support import ON_SQLITE, Server, next_id

pytestmark = ON_SQLITE  # the subject is the server layer, not storage

Spawn = Callable[..., Server]
PRESENCE = "/presence"


@pytest.fixture(scope="module")
def heartbeat_server(spawn_server_module: Spawn) -> Server:
    """Pings every second, a pong due within a second; namespaces may take their time."""
    return spawn_server_module(
        SLYCHAT_PING_INTERVAL="1s", SLYCHAT_PING_TIMEOUT="1s", SLYCHAT_HANDSHAKE_TIMEOUT="30s"
    )


async def _with_presence(server: Server) -> ClientConnection:
    """A websocket with /presence open (its CONNECT answered)."""
    ws = await open_engineio(server)
    await open_namespace(ws, PRESENCE, "customer", next_id())
    opened = await next_packet(ws)
    assert str(opened).startswith("40/presence,{"), opened
    return ws


async def _ack(ws: ClientConnection, ack_id: int, timeout: float = 10.0) -> Any:
    """The argument of the ACK numbered `ack_id` on /presence (other packets skipped), due
    within `timeout` seconds in all: PINGs keep arriving, so waiting for each packet alone
    would wait for good if the ACK never came (it once did not: see the issue notes)."""
    prefix = f"43/presence,{ack_id}"
    async with asyncio.timeout(timeout):
        while True:
            packet = await next_packet(ws)
            if isinstance(packet, str) and packet.startswith(prefix):
                args = json.loads(packet[len(prefix) :])
                assert len(args) == 1, packet
                return args[0]


def _refused_with_400(ack: Any) -> str:
    assert ack["error"] is True, ack
    assert ack["statusCode"] == 400, ack
    return str(ack["message"])


async def _still_served(ws: ClientConnection) -> None:
    """The connection still answers events."""
    await ws.send('42/presence,99["checkOnlinePresence",{"userId":1,"userType":"VENDOR"}]')
    assert (await _ack(ws, 99))["error"] is False


async def _closed_without_pongs(ws: ClientConnection, timeout: float) -> list[Any]:
    """Read, never answering a PING, until the server closes the connection; the frames
    read (a TimeoutError if it stays open)."""
    frames: list[Any] = []
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            while True:
                frames.append(await ws.recv())
    return frames


async def test_a_websocket_that_never_answers_pings_is_closed_by_the_ping_timeout(
    heartbeat_server: Server,
) -> None:
    ws = await _with_presence(heartbeat_server)
    frames = await _closed_without_pongs(ws, 10)
    assert "2" in frames, frames  # pinged, never answered, then closed


async def test_a_silent_websocket_without_a_namespace_is_closed_too(
    heartbeat_server: Server,
) -> None:
    # Before any namespace, and long before the handshake time limit (30 s).
    ws = await open_engineio(heartbeat_server)
    frames = await _closed_without_pongs(ws, 10)
    assert "2" in frames, frames


async def test_a_websocket_that_answers_pings_stays(heartbeat_server: Server) -> None:
    ws = await _with_presence(heartbeat_server)
    try:
        # Pings answered for 3 s, past the ping timeout (reading all along: a pong a
        # second late would be a client gone).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                while True:
                    await next_packet(ws)
        await _still_served(ws)
    finally:
        await ws.close()


async def test_the_engineio_close_packet_closes_the_websocket(heartbeat_server: Server) -> None:
    ws = await _with_presence(heartbeat_server)
    await ws.send("1")
    await until_closed(ws, 5)


async def test_an_invalid_socketio_handshake_closes_the_connection(
    heartbeat_server: Server,
) -> None:
    ws = await open_engineio(heartbeat_server)
    await ws.send("4abc")  # type 4 (CONNECT_ERROR) is the server's, never the client's
    await until_closed(ws, 5)


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param("4abc", id="connect-error-from-the-client"),
        pytest.param("49/presence,", id="unknown-packet-type"),
        pytest.param("42/presence,{}", id="event-payload-not-a-list"),
        pytest.param('42/presence,"checkOnlinePresence"', id="event-payload-a-string"),
        pytest.param("42/presence,[]", id="event-without-a-name"),
        pytest.param("42/presence,[{}]", id="event-named-by-an-object"),
        pytest.param('42/presence,abc["checkOnlinePresence",{}]', id="invalid-ack-id"),
        pytest.param('42/presence,["checkOnlinePresence",', id="payload-not-json"),
        pytest.param("43/presence,1{}", id="ack-payload-not-a-list"),
    ],
)
async def test_a_packet_the_protocol_does_not_allow_closes_the_connection(
    heartbeat_server: Server, packet: str
) -> None:
    ws = await _with_presence(heartbeat_server)
    await ws.send(packet)
    await until_closed(ws, 5)


async def test_a_valid_packet_with_a_bad_payload_gets_an_app_error_and_stays(
    heartbeat_server: Server,
) -> None:
    ws = await _with_presence(heartbeat_server)
    try:
        await ws.send('42/presence,7["checkOnlinePresence","not an object"]')
        _refused_with_400(await _ack(ws, 7))
        await ws.send('42/presence,8["noSuchEvent",{}]')
        assert "Unknown event" in _refused_with_400(await _ack(ws, 8))
        await _still_served(ws)
    finally:
        await ws.close()


async def test_an_event_named_by_a_number_is_refused_with_400(heartbeat_server: Server) -> None:
    # The protocol lets an event be named by a number; slychat's events all have names.
    ws = await _with_presence(heartbeat_server)
    try:
        await ws.send("42/presence,63[5,{}]")
        assert _refused_with_400(await _ack(ws, 63)) == "An event's name must be a string"
        await _still_served(ws)
    finally:
        await ws.close()


async def test_a_binary_event_with_an_ack_is_refused_in_its_ack(heartbeat_server: Server) -> None:
    # slychat never takes or sends binary: the event is refused, its ack carrying the error
    # (never a binary ACK), and the connection stays.
    ws = await _with_presence(heartbeat_server)
    try:
        await ws.send('451-/presence,789["checkOnlinePresence",{"_placeholder":true,"num":0}]')
        await ws.send(b"\x01\x02\x03")
        _refused_with_400(await _ack(ws, 789))
        await _still_served(ws)
    finally:
        await ws.close()


async def test_an_unknown_field_nested_deeper_than_16_levels_is_refused(
    heartbeat_server: Server,
) -> None:
    # orjson reads it (it follows 1,024 levels); the depth limit still applies.
    ws = await _with_presence(heartbeat_server)
    try:
        for depth, refused in ((15, False), (17, True)):
            nested: Any = 1
            for _ in range(depth):
                nested = {"a": nested}
            payload = {"userId": 1, "userType": "VENDOR", "extra": nested}
            await ws.send(f"42/presence,{depth}{json.dumps(['checkOnlinePresence', payload])}")
            ack = await _ack(ws, depth)
            if refused:
                assert "nested too deeply" in _refused_with_400(ack)
            else:
                assert ack["error"] is False, ack
    finally:
        await ws.close()
