"""Socket.IO fan-out: in-process, or between nodes over Redis pub/sub (python-socketio's
Redis manager, with failed publishes counted and its health watched)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import socketio
from engineio import packet as eio_packet
from redis import asyncio as aioredis
from socketio import packet

from slychat.logs.context import start_task
from slychat.logs.outages import Outage
from slychat.logs.redaction import describe
from slychat.server.codec import JsonModule

log = logging.getLogger(__name__)
# Emits whose deliveries are reported to `LocalFanout.delivered` (the feed positions of
# what each socket was sent: realtime/feed_order.py).
TRACKED_EVENTS = frozenset({"receiveMessage", "receiveMedia"})
# A node publishes a probe this often and expects to hear it back on its subscription.
PROBE_SECONDS = 1.0
# Not heard for this long: the subscription is taken for lost and made again.
_PROBE_LOST = 3.0
_PROBE, _RESYNC = "slychat-probe", "slychat-resync"


class LocalFanout(socketio.AsyncManager):  # type: ignore[misc]
    """Delivers to this process's sockets with one encoding per emit and no task per
    recipient: python-socketio's manager starts a task for every recipient and waits for
    them all, which cost more than the send itself (each send only queues the frame for
    the socket's writer).

    `emits` and `recipients` count this process's deliveries, for /metrics. `delivered`,
    when set, hears of each delivery of a TRACKED_EVENTS emit: (event, data, sids);
    `prepare`, when set, is given such an emit before it is encoded and returns its data
    for these sids (a cursor of another node's writing capped at this node's hold) and
    the sids it is for (not those that were already sent it).
    `on_break` and `on_resume` hear of the fan-out between nodes breaking (given since
    when changes may have been dropped) and working again; in one process it never
    breaks."""

    emits = 0
    recipients = 0
    delivered: Callable[[str, Any, list[str]], None] | None = None
    prepare: Callable[[str, Any, list[str]], tuple[Any, list[str]]] | None = None
    on_break: Callable[[float], None] | None = None
    on_resume: Callable[[float], Awaitable[None]] | None = None
    outage: Outage | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:  # each recipient needs its own ack id
            await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        if namespace not in self.rooms:
            return
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        reached = [p for p in self.get_participants(namespace, to or room) if p[0] not in skip]
        tracked = bool(reached) and event in TRACKED_EVENTS
        if tracked and self.prepare is not None:
            data, sids = self.prepare(event, data, [sid for sid, _ in reached])
            if len(sids) < len(reached):
                kept = set(sids)
                reached = [p for p in reached if p[0] in kept]
                if not reached:
                    return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frame = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        self.emits += 1
        for _sid, eio_sid in reached:
            self.recipients += 1
            await self.server.eio.send_packet(eio_sid, frame)
        if tracked and self.delivered is not None:
            self.delivered(event, data, [sid for sid, _ in reached])


class RedisFanout(socketio.AsyncRedisManager, LocalFanout):  # type: ignore[misc]
    """python-socketio delivers to this node's sockets first (through `LocalFanout`) and
    then publishes for the others. The subscriber reconnects on its own with a backoff
    capped at 60 s.

    Publishing does not wait for Redis: emits queue their message, and one task sends
    everything queued in one pipelined round trip, in order (a message cost three round
    trips in its sender's handler before). A publish that fails is retried once on a new
    connection, then dropped and counted, so local clients keep being served while Redis
    is away; the clients of other nodes catch up through sync.
    """

    connected: bool  # the library's: whether its Redis client is set up

    def __init__(self, url: str, channel: str) -> None:
        # A publish to a Redis that hangs gives up within a second instead of never.
        options = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
        super().__init__(url, channel=channel, json=JsonModule, redis_options=options)
        self.url = url
        self.publish_failures = 0
        self._outbox: list[Any] = []
        self._sender: asyncio.Task[None] | None = None
        self.outage = Outage("fan-out")
        self._broken_since = 0.0  # monotonic: when changes may first have been dropped
        self._heard = 0.0  # when this node last heard its own probe
        self._prober: asyncio.Task[None] | None = None

    async def _publish(self, data: Any) -> None:
        self._outbox.append(data)
        if self._sender is None:
            self._sender = start_task("redis_publish", self._send_outbox())

    async def _send_outbox(self) -> None:
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[Any]) -> None:
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for data in batch:
                    pipe.publish(self.channel, self.json.dumps(data))
                await pipe.execute()
                return
            except Exception as exc:  # any failure of Redis or its connection
                self.connected = False
                if attempt == 2:
                    self.publish_failures += len(batch)
                    self._broke(f"publish of {len(batch)} messages dropped: {describe(exc)}")

    # --- health ---------------------------------------------------------------------------

    def _broke(self, detail: str) -> None:
        """Changes may be missing from this node's sockets or from its peers' (a publish
        dropped, the subscription lost): noted once per outage, and told to `on_break`."""
        if self.outage is None:
            return
        if not self.outage.down:
            self._broken_since = time.monotonic()
            if self.on_break is not None:
                self.on_break(self._broken_since)
        self.outage.failed(detail)

    async def _resumed(self) -> None:
        """The probe came back after a break: peers are told to catch their sockets up
        (they may have lost only this node's publishes), and so does this node."""
        if self.outage is None or not self.outage.down:
            return
        since = self._broken_since
        self.outage.ok()
        lasted = time.monotonic() - since
        await self._publish({"method": _RESYNC, "host_id": self.host_id, "lasted": lasted})
        if self.on_resume is not None:
            await self.on_resume(since)

    async def _probe(self) -> None:
        """Publish a probe every PROBE_SECONDS, heard back by this node's subscription."""
        while True:
            await self._publish({"method": _PROBE, "host_id": self.host_id})
            await asyncio.sleep(PROBE_SECONDS)

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        """The library's loop, on a client of its own with bounded reads: a Redis that
        hangs is noticed by the probe no longer coming back, and the subscription is made
        again at once (the library backs off up to 60 s)."""
        if self._prober is None:
            self._prober = start_task("fanout_probe", self._probe())
        loop = asyncio.get_running_loop()
        while True:
            client: Any = aioredis.Redis.from_url(
                self.url, socket_timeout=_PROBE_LOST, socket_connect_timeout=1.0
            )
            pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._heard = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=PROBE_SECONDS)
                    if message is not None:
                        yield message
                    if loop.time() - self._heard > _PROBE_LOST:
                        raise TimeoutError("the fan-out probe was not heard back")
            except Exception as exc:  # any failure of Redis or its connection
                self._broke(f"subscription lost: {describe(exc)}")
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(0.2)

    async def _listen(self) -> AsyncIterator[Any]:
        """Messages for the library, without this node's probes and the peers' resyncs,
        which are handled here."""
        channel = self.channel.encode()
        async for message in self._redis_listen_with_retries():
            if message.get("channel") != channel or message.get("type") != "message":
                continue
            data = message["data"]
            if b'"method":"slychat-' not in data:
                yield data
                continue
            body = orjson.loads(data)
            if body.get("method") == _PROBE:
                if body.get("host_id") == self.host_id:
                    self._heard = asyncio.get_running_loop().time()
                    await self._resumed()
            elif body.get("method") == _RESYNC and body.get("host_id") != self.host_id:
                # A peer dropped publishes for `lasted` seconds: its changes may be
                # missing here although this subscription never broke.
                since = time.monotonic() - float(body.get("lasted", 0.0))
                if self.on_break is not None:
                    self.on_break(since)
                if self.on_resume is not None:
                    await self.on_resume(since)
