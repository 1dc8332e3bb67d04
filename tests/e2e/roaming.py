"""Clients that roam between nodes, as the platform's apps do behind a load balancer: on
connection loss they reconnect to the next node, catch up from their sync cursor, and
send again whatever was not acked (same clientMessageId), until it is.

A client's `cursor` only ever comes from the server's sync replies (or, at the first
connection, from userChats): everything before it has reached the client. Live events may
arrive out of commit order across nodes, so they add to what the client has but never
move the cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio

from tests.dbcheck import query
from tests.support import new_chat_fields, token

CONNECT_WITHIN = 30.0  # seconds a client may take to find a node again
ACK_WITHIN = 10.0


@dataclass
class Pair:
    """A customer and a vendor talking about one product: one chat."""

    customer: int
    vendor: int
    chat_id: str | None = None
    chat_ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def product(self) -> str:
        return f"roam-{self.customer}"


class Roamer:
    def __init__(self, urls: list[str], role: str, user_id: int, start: int = 0) -> None:
        self.urls = urls
        self.role = role
        self.id = user_id
        self.index = start % len(urls)
        self.sio: socketio.AsyncClient | None = None
        self.up = asyncio.Event()  # connected, through the /chat handshake and caught up
        self.lost = asyncio.Event()  # the current connection went away
        self.cursor: str | None = None
        self.more = False  # the last sync page said hasMore
        self.resets = 0  # sync replies that said the cursor could not be served
        self.seen: set[str] = set()  # ids of the messages this client has
        self.acked: dict[str, dict[str, Any]] = {}  # clientMessageId -> the stored message
        self.reconnects = 0
        self._closing = False
        self._moving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect_somewhere()

    async def close(self) -> None:
        self._closing = True
        if self._moving is not None:
            self._moving.cancel()
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()

    # --- connections -------------------------------------------------------------------

    async def _connect_somewhere(self) -> None:
        deadline = asyncio.get_running_loop().time() + CONNECT_WITHIN
        while True:
            try:
                await self._connect(self.urls[self.index])
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                self.index = (self.index + 1) % len(self.urls)
                await asyncio.sleep(0.2)

    async def _connect(self, url: str) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        ready = asyncio.Event()
        lost = asyncio.Event()
        sio.on("userChats", self._on_user_chats, namespace="/chat")
        sio.on("syncMessages", self._on_sync, namespace="/chat")
        sio.on("offlineMessages", self._collect(lambda b: b["data"], ready), namespace="/chat")
        sio.on("receiveMessage", self._collect(lambda b: b["data"]), namespace="/chat")
        sio.on("newChat", self._collect(lambda b: b["message"]["messages"]), namespace="/chat")
        sio.on("disconnect", lambda *_why: self._on_lost(sio, lost), namespace="/chat")
        auth: dict[str, Any] = {"token": token(self.role, self.id)}
        if self.cursor is not None:
            auth["syncCursor"] = self.cursor  # the handshake emits the first page
        try:
            await sio.connect(
                url,
                namespaces=["/presence", "/chat"],
                auth=auth,
                transports=["websocket"],
                wait_timeout=5,
            )
            async with asyncio.timeout(10):
                await ready.wait()
            while self.more:
                await self._sync_page(sio)
        except BaseException:
            with contextlib.suppress(Exception):
                await sio.disconnect()
            raise
        self.sio, self.lost = sio, lost
        self.up.set()

    def _on_lost(self, sio: socketio.AsyncClient, lost: asyncio.Event) -> None:
        lost.set()
        if sio is not self.sio or self._closing:
            return
        self.up.clear()
        self.reconnects += 1
        self.index = (self.index + 1) % len(self.urls)  # move on to another node
        self._moving = asyncio.ensure_future(self._connect_somewhere())

    # --- what arrives -----------------------------------------------------------------

    def _on_user_chats(self, body: dict[str, Any]) -> None:
        if self.cursor is None:  # a new user: nothing happened before this cursor
            self.cursor = body["syncCursor"]

    def _on_sync(self, body: dict[str, Any]) -> None:
        data = body["data"]
        if data.get("reset"):
            self.resets += 1
        for change in data["changes"]:
            if change["type"] == "message":
                self.seen.add(change["message"]["id"])
        self.cursor = data["syncCursor"]
        self.more = data["hasMore"]

    def _collect(
        self, messages: Callable[[Any], list[dict[str, Any]]], done: asyncio.Event | None = None
    ) -> Callable[[Any], None]:
        def collect(body: Any) -> None:
            self.seen.update(m["id"] for m in messages(body))
            if done is not None:
                done.set()

        return collect

    async def _sync_page(self, sio: socketio.AsyncClient) -> None:
        """One syncMessages request; the page comes as the event (handled above), before
        its ack."""
        ack = await sio.call(
            "syncMessages", {"since": self.cursor}, namespace="/chat", timeout=ACK_WITHIN
        )
        assert ack["error"] is False, ack

    async def catch_up(self) -> None:
        """The final sync: everything after the cursor, page after page."""
        async with asyncio.timeout(CONNECT_WITHIN):
            await self.up.wait()
        assert self.sio is not None
        self.more = True
        while self.more:
            await self._sync_page(self.sio)

    # --- sending ------------------------------------------------------------------------

    async def send_stream(self, pair: Pair, count: int, every: float) -> None:
        """`count` messages into the pair's chat, one every `every` seconds, each sent
        again after a reconnection until it is acked."""
        if self.role == "vendor":
            await pair.chat_ready.wait()
        other = pair.vendor if self.role == "customer" else pair.customer
        for n in range(count):
            payload: dict[str, Any] = {
                "productId": pair.product,
                "recipientId": other,
                "text": f"{self.role} {n}",
                "clientMessageId": f"{self.role}-{self.id}-{n}",
            }
            if self.role == "customer" and n == 0:
                payload |= new_chat_fields()
            message = await self._send_until_acked(payload)
            if pair.chat_id is None:
                pair.chat_id = message["chatId"]
                pair.chat_ready.set()
            await asyncio.sleep(every)

    async def _send_until_acked(self, payload: dict[str, Any]) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + 4 * CONNECT_WITHIN
        while asyncio.get_running_loop().time() < deadline:
            async with asyncio.timeout(CONNECT_WITHIN):
                await self.up.wait()
            sio, lost = self.sio, self.lost
            assert sio is not None
            call = asyncio.ensure_future(
                sio.call("sendMessage", payload, namespace="/chat", timeout=ACK_WITHIN)
            )
            gone = asyncio.ensure_future(lost.wait())
            await asyncio.wait({call, gone}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if not call.done():  # the connection went away: no ack is coming
                call.cancel()
                await asyncio.sleep(0.05)
                continue
            try:
                ack = call.result()
            except Exception:  # timed out, or the namespace was already gone
                continue
            if ack["error"] and ack["statusCode"] == 503:  # the node is leaving
                async with asyncio.timeout(ACK_WITHIN):
                    await lost.wait()
                continue
            assert ack["error"] is False, ack
            message: dict[str, Any] = ack["data"]
            self.acked[payload["clientMessageId"]] = message
            self.seen.add(message["id"])
            return message
        raise AssertionError(f"{payload['clientMessageId']} was never acked")


async def check_storage(database_url: str, pairs: list[Pair], roamers: list[Roamer]) -> None:
    """Every acked message is stored once, as acked; nothing is stored that no client
    sent; each chat's seq runs 1, 2, 3... without a gap."""
    acked = {cid: m for r in roamers for cid, m in r.acked.items()}
    for pair in pairs:
        rows = await query(
            database_url,
            "SELECT id, seq, client_message_id, sender_id, sender_type FROM messages "
            "WHERE chat_id = :c ORDER BY seq",
            c=pair.chat_id,
        )
        assert [row.seq for row in rows] == list(range(1, len(rows) + 1)), pair
        for row in rows:
            sent = acked.get(row.client_message_id)
            assert sent is not None, f"stored but never acked: {row}"
            assert sent["id"] == row.id, (sent, row)
            expected = pair.customer if row.sender_type == "CUSTOMER" else pair.vendor
            assert row.sender_id == expected, row
        ours = {cid for cid, m in acked.items() if m["chatId"] == pair.chat_id}
        assert ours == {row.client_message_id for row in rows}, pair
        assert len(rows) == len({row.client_message_id for row in rows}), "stored twice"


def check_delivery(pairs: list[Pair], roamers: list[Roamer]) -> None:
    """After its final sync, every client has every message of its chat."""
    in_chat: dict[str | None, set[str]] = {}
    for r in roamers:
        for message in r.acked.values():
            in_chat.setdefault(message["chatId"], set()).add(message["id"])
    for pair, customer, vendor in zip(pairs, roamers[::2], roamers[1::2], strict=True):
        everything = in_chat[pair.chat_id]
        for roamer in (customer, vendor):
            assert roamer.resets == 0, roamer.id
            missing = everything - roamer.seen
            assert not missing, f"{roamer.role} {roamer.id} lacks {len(missing)} messages"
