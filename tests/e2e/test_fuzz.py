"""Every client event, fed arbitrary JSON by hypothesis, against a real server: every reply
is a well-formed appError or a success, the server stays up, and afterwards the database
holds its invariants (one chat per key, gapless `seq`, no orphan rows, and nothing stored
by a refused event).

The clients live on an event loop of their own in a thread, so that hypothesis can drive
them from ordinary (synchronous) tests. `make test` runs a bounded number of examples;
`make soak` runs the `slow` variant with many more.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from slychat.sockets.chat import ChatNamespace
from slychat.sockets.presence import PresenceNamespace
from tests.dbcheck import query
from tests.strategies import CURSORS, HOSTILE_NUMBERS, HOSTILE_TEXT, IDS, URLS, json_values
from tests.support import (
    Client,
    Server,
    new_chat_fields,
    next_id,
    signed_cursor,
    speaks_the_protocol,
)

T = TypeVar("T")
MAX_PACKET = 48 * 1024
EVENTS = sorted(
    [("/chat", e) for e in ChatNamespace.events]
    + [("/presence", e) for e in PresenceNamespace.events]
)
KEY = "fuzz-cursor-secret-0123456789abcdef"  # the arena's SLYCHAT_CURSOR_SECRET


@dataclass(frozen=True)
class Real:
    """A value of the arena's own (its chat's id, a message id, a real cursor...), put in
    when the payload is sent: hostile values beside real ones reach deeper paths."""

    name: str


REAL = st.sampled_from(
    [Real(n) for n in ("chat_id", "message_id", "product", "vendor_id", "customer_id", "cursor")]
)


@dataclass(frozen=True)
class SignedCursor:
    """A cursor signed with the arena's key, holding numbers of any kind, for the user who
    sends it (`user` None) or another: only a holder of the key writes these, which is
    exactly why nothing in them may be trusted to be in range. Built when sent."""

    user: Any
    pos: Any
    at: Any

    def build(self, client: Client) -> str:
        user = client.id if self.user is None else self.user
        return signed_cursor(f"{client.user_type}:{user}:{self.pos}:{self.at}", KEY.encode())


SIGNED_CURSORS = st.builds(
    SignedCursor, st.none() | HOSTILE_NUMBERS, HOSTILE_NUMBERS, HOSTILE_NUMBERS
)
# Per field, values shaped like its real ones with hostile parts, or anything at all.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "chatId": IDS | REAL,
    "messageId": IDS | REAL,
    "before": IDS | HOSTILE_NUMBERS | REAL,
    "productId": HOSTILE_TEXT | HOSTILE_NUMBERS | REAL,
    "recipientId": HOSTILE_NUMBERS | REAL,
    "userId": HOSTILE_NUMBERS | REAL,
    "limit": HOSTILE_NUMBERS,
    "since": CURSORS | SIGNED_CURSORS | REAL,
    "productImageUrl": URLS,
    "storeLogoUrl": URLS,
    "customerProfilePic": URLS,
}
FIELDS = [
    "chatId", "productId", "recipientId", "text", "clientMessageId", "messageId", "before",
    "limit", "since", "userId", "userType", "productName", "storeName", "customerName",
    "productPrice", "productImageUrl", "storeLogoUrl", "customerProfilePic",
]  # fmt: skip
JSON = json_values(max_leaves=12)
# Payloads shaped like the events' own: their field names, with values shaped like each
# field's or anything; and payloads nested far deeper than any event.
SHAPED = st.lists(
    st.sampled_from(FIELDS).flatmap(
        lambda name: st.tuples(st.just(name), FIELD_VALUES.get(name, JSON) | JSON)
    ),
    max_size=6,
).map(dict)


@dataclass(frozen=True)
class Deep:
    """A payload nested `depth` levels deep, built when sent (hypothesis's reports print
    it by its depth)."""

    depth: int

    def build(self) -> Any:
        value: Any = "x"
        for _ in range(self.depth):
            value = {"a": [value]}
        return value


# (Past ~400 levels of {"a": [...]} the client's own encoder gives up; the server's
# reading of deeper packets is tested in tests/server/test_codec.py.)
PAYLOADS = JSON | SHAPED | st.builds(Deep, st.integers(min_value=5, max_value=400))


class LoopThread:
    """An event loop running in a thread: coroutines are handed to it and awaited."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class Arena:
    server: Server
    loop: LoopThread
    customer: Client
    vendor: Client
    product: str
    chat_id: str
    message_id: str
    cursors: dict[int, str]  # user id -> a cursor the server issued to that user
    stored: set[str] = field(default_factory=set)  # message ids successful sends returned
    replies: int = 0


@pytest.fixture(scope="module")
def arena(spawn_server_module: Callable[..., Server]) -> Iterator[Arena]:
    srv = spawn_server_module(SLYCHAT_RATE_LIMITS="off", SLYCHAT_CURSOR_SECRET=KEY)
    loop = LoopThread()

    async def setup() -> Arena:
        customer = await (await Client(srv.url, "customer", next_id()).connect()).ready()
        vendor = await (await Client(srv.url, "vendor", next_id()).connect()).ready()
        product = f"fuzz-{next_id()}"
        first = await customer.call(
            "sendMessage",
            {"productId": product, "recipientId": vendor.id, "text": "hi", **new_chat_fields()},
        )
        cursors = {c.id: (await c.call("getUserChats"))["syncCursor"] for c in (customer, vendor)}
        return Arena(
            srv,
            loop,
            customer,
            vendor,
            product,
            first["data"]["chatId"],
            first["data"]["id"],
            cursors,
        )

    world = loop.run(setup())
    world.stored.add(world.message_id)
    try:
        yield world
    finally:

        async def close() -> None:
            await asyncio.gather(world.customer.close(), world.vendor.close())

        loop.run(close())
        loop.close()


def _is_well_formed(reply: Any) -> bool:
    if not isinstance(reply, dict) or not isinstance(reply.get("error"), bool):
        return False
    if reply["error"]:
        message = reply.get("message")
        return (
            reply.get("statusCode") in (400, 401, 403, 404, 409, 413, 429)
            and isinstance(message, str)
            and speaks_the_protocol(message)
        )
    return reply.get("statusCode") == 200


def _resolved(value: Any, arena: Arena, client: Client) -> Any:
    """`value` with its `Real` and `SignedCursor` placeholders replaced."""
    if isinstance(value, Real):
        real = {
            "chat_id": arena.chat_id,
            "message_id": arena.message_id,
            "product": arena.product,
            "vendor_id": arena.vendor.id,
            "customer_id": arena.customer.id,
            "cursor": arena.cursors[client.id],
        }
        return real[value.name]
    if isinstance(value, SignedCursor):
        return value.build(client)
    if isinstance(value, dict):
        return {k: _resolved(v, arena, client) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, arena, client) for v in value]
    return value


def _fuzz_one(arena: Arena, event: tuple[str, str], payload: Any, actor: str) -> None:
    ns, name = event
    client = arena.customer if actor == "customer" else arena.vendor
    payload = payload.build() if isinstance(payload, Deep) else _resolved(payload, arena, client)
    # A packet over the server's size cap closes the connection by design (tested on its
    # own); the fuzzing stays under it.
    assume(len(json.dumps(payload)) < MAX_PACKET)
    reply = arena.loop.run(client.call(name, payload, ns=ns, timeout=20))
    assert _is_well_formed(reply), (name, payload, reply)
    arena.replies += 1
    data = reply.get("data")
    if name == "sendMessage" and not reply["error"] and isinstance(data, dict):
        arena.stored.add(data["id"])


def _fuzz(arena: Arena, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(
        event=st.sampled_from(EVENTS),
        payload=PAYLOADS,
        actor=st.sampled_from(["customer", "vendor"]),
    )
    def run(event: tuple[str, str], payload: Any, actor: str) -> None:
        _fuzz_one(arena, event, payload, actor)

    run()


def _check_invariants(arena: Arena) -> None:
    url = arena.server.database_url

    async def check() -> None:
        duplicates = await query(
            url,
            "SELECT product_id, vendor_id, customer_id FROM chats "
            "GROUP BY product_id, vendor_id, customer_id HAVING COUNT(*) > 1",
        )
        assert duplicates == []
        gaps = await query(
            url,
            "SELECT chat_id FROM messages GROUP BY chat_id "
            "HAVING MIN(seq) <> 1 OR MAX(seq) <> COUNT(*)",
        )
        assert gaps == []
        orphans = await query(
            url,
            "SELECT id FROM messages WHERE chat_id NOT IN (SELECT id FROM chats) "
            "UNION ALL SELECT id FROM message_media "
            "WHERE message_id NOT IN (SELECT id FROM messages)",
        )
        assert orphans == []
        over = await query(
            url,
            "SELECT id FROM chats WHERE last_seq <> "
            "(SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.id)",
        )
        assert over == []
        # Only the sends that succeeded stored anything for these two users.
        rows = await query(
            url,
            "SELECT m.id FROM messages m JOIN chats c ON c.id = m.chat_id "
            "WHERE c.customer_id = :c OR c.vendor_id = :v",
            c=arena.customer.id,
            v=arena.vendor.id,
        )
        assert {r.id for r in rows} == arena.stored

    arena.loop.run(check())
    assert arena.customer.sio.connected
    assert arena.vendor.sio.connected


def test_every_event_survives_arbitrary_json(arena: Arena) -> None:
    _fuzz(arena, examples=60)
    _check_invariants(arena)
    assert arena.replies >= 60


@pytest.mark.slow
def test_every_event_survives_arbitrary_json_at_length(arena: Arena) -> None:
    _fuzz(arena, examples=3000)
    _check_invariants(arena)
