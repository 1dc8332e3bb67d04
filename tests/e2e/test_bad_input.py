"""Bad input on every client event (docs/protocol.md, "Errors"): the caller gets an
`appError` and the same object as its ack, storage is unchanged, and nobody else notices.

The cases below share one set of connected users per backend (`world`), because a bad
event must change nothing: every case checks exactly that, so the next one starts from
the same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import UserFactory
from tests.support import Client, Server, new_chat_fields, next_id, speaks_the_protocol

# After a bad event every other client makes a round trip on its own connection, which
# flushes anything the server emitted to it while handling the event (one connection
# delivers in order), and must have received nothing else; QUIET more covers stragglers
# from background work. `test_nothing_arrived_late` then checks, after a LATE wait, that
# the shared users received nothing during the whole module but replies to themselves.
QUIET = 0.01
LATE = 0.3
UNKNOWN_ID = "f" * 24  # well-formed, never issued
MAX_TEXT = 5000

# --- storage ----------------------------------------------------------------------------

_CHATS_OF = "(customer_id IN :customers OR vendor_id IN :vendors)"
_SNAPSHOT = {
    "chats": f"SELECT * FROM chats WHERE {_CHATS_OF} ORDER BY id",
    "messages": (
        f"SELECT * FROM messages WHERE chat_id IN (SELECT id FROM chats WHERE {_CHATS_OF})"
        " ORDER BY chat_id, seq"
    ),
    # What edits, reactions and settings keep beside the messages.
    "message_versions": (
        "SELECT * FROM message_versions WHERE message_id IN (SELECT id FROM messages WHERE"
        f" chat_id IN (SELECT id FROM chats WHERE {_CHATS_OF})) ORDER BY message_id, version"
    ),
    "message_reactions": (
        "SELECT * FROM message_reactions WHERE message_id IN (SELECT id FROM messages WHERE"
        f" chat_id IN (SELECT id FROM chats WHERE {_CHATS_OF}))"
        " ORDER BY message_id, user_type, user_id"
    ),
    "chat_settings": (
        f"SELECT * FROM chat_settings WHERE chat_id IN (SELECT id FROM chats WHERE {_CHATS_OF})"
        " ORDER BY chat_id, user_type, user_id"
    ),
    # Reports about their chats or about them: a refused report stores none.
    "reports": (
        f"SELECT * FROM reports WHERE target_chat_id IN (SELECT id FROM chats WHERE {_CHATS_OF})"
        " OR (target_user_type = 'CUSTOMER' AND target_user_id IN :customers)"
        " OR (target_user_type = 'VENDOR' AND target_user_id IN :vendors) ORDER BY id"
    ),
    "last_seen": (
        "SELECT * FROM last_seen WHERE (user_type = 'CUSTOMER' AND user_id IN :customers)"
        " OR (user_type = 'VENDOR' AND user_id IN :vendors) ORDER BY user_type, user_id"
    ),
}


async def snapshot(
    engine: AsyncEngine, customers: list[int], vendors: list[int]
) -> dict[str, list[dict[str, Any]]]:
    """Every stored row about these users: their chats, those chats' messages (tombstones
    included) with their versions and reactions, the chats' settings, reports about them
    or their chats, and their lastSeen."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for name, sql in _SNAPSHOT.items():
            query = text(sql).bindparams(
                bindparam("customers", expanding=True), bindparam("vendors", expanding=True)
            )
            rows = await conn.execute(query, {"customers": customers, "vendors": vendors})
            out[name] = [dict(row._mapping) for row in rows]
    return out


@pytest.fixture(scope="module")
async def db(server: Server) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(server.database_url)
    yield engine
    await engine.dispose()


# --- the shared users -------------------------------------------------------------------


@dataclass
class World:
    a: Client  # customer, chatting with b about `product`
    b: Client  # vendor
    c: Client  # a third customer: no chat with anybody
    d: Client  # a customer for cases that would leave a chat behind if they succeeded
    x: Client  # bystander customer, chatting with y about `bystander_product`
    y: Client  # bystander vendor
    product: str
    chat_id: str
    a_message: str  # a -> b, unread by b
    b_message: str  # b -> a, unread by a
    deleted: str  # a -> b, deleted by a (a tombstone)
    bystander_product: str
    bystander_chat: str
    bystander_message: str
    settled: dict[int, int]  # id(client) -> how many events it had when the setup was done

    def everyone(self) -> list[Client]:
        return [self.a, self.b, self.c, self.d, self.x, self.y]

    def involved(self) -> tuple[list[int], list[int]]:
        """The customers and vendors whose stored rows no bad event may change."""
        return [self.a.id, self.c.id, self.d.id], [self.b.id]


async def _ok(client: Client, event: str, payload: Any, ns: str = "/chat") -> Any:
    ack = await client.call(event, payload, ns=ns)
    assert isinstance(ack, dict), ack
    assert ack["error"] is False, ack
    return ack


@pytest.fixture(scope="module")
async def world(server: Server) -> AsyncIterator[World]:
    clients: list[Client] = []

    async def user(role: str) -> Client:
        client = Client(server.url, role, next_id())
        clients.append(client)
        await client.connect()
        return await client.ready()

    try:
        a, b, c, d, x, y = await asyncio.gather(
            *(user(r) for r in ("customer", "vendor", "customer", "customer", "customer", "vendor"))
        )
        product, bystander_product = f"bad-{next_id()}", f"ok-{next_id()}"
        first = await _ok(
            a,
            "sendMessage",
            {"productId": product, "recipientId": b.id, "text": "hello", **new_chat_fields()},
        )
        await b.wait("newChat")
        reply = await _ok(
            b, "sendMessage", {"productId": product, "recipientId": a.id, "text": "hi"}
        )
        oops = await _ok(
            a, "sendMessage", {"productId": product, "recipientId": b.id, "text": "oops"}
        )
        await _ok(a, "deleteMessage", {"messageId": oops["data"]["id"]})
        other = await _ok(
            x,
            "sendMessage",
            {
                "productId": bystander_product,
                "recipientId": y.id,
                "text": "bystanding",
                **new_chat_fields(),
            },
        )
        await y.wait("newChat")
        await asyncio.sleep(0.2)  # let the setup's own events settle
        settled = {id(client): len(client.events) for client in clients}
        yield World(
            a=a,
            b=b,
            c=c,
            d=d,
            x=x,
            y=y,
            product=product,
            chat_id=first["data"]["chatId"],
            a_message=first["data"]["id"],
            b_message=reply["data"]["id"],
            deleted=oops["data"]["id"],
            bystander_product=bystander_product,
            bystander_chat=other["data"]["chatId"],
            bystander_message=other["data"]["id"],
            settled=settled,
        )
    finally:
        await asyncio.gather(*(client.close() for client in clients))


# --- the cases --------------------------------------------------------------------------

Payload = Callable[[World], Any]
NO_PAYLOAD: Payload | None = None  # the event is emitted with no argument at all


@dataclass(frozen=True)
class Case:
    id: str
    event: str
    payload: Payload | None
    status: int | tuple[int, ...] = 400
    actor: str = "a"  # one of World's clients
    ns: str = "/chat"


# Hostile values every case table below also tries (tests/strategies.py has the same kinds
# for the fuzz tests): numbers of every size and type, digit strings int() would read but
# the protocol does not, and strings no column can hold.
NOT_USER_IDS: dict[str, Any] = {
    "false": False,
    "whole-float": 7.0,
    "1e300": 1e300,
    "2^63": 2**63,
    "below-bigint": -(2**63) - 1,
    "10^30": 10**30,
    "minus-10^30": -(10**30),
    "5000-digits": "9" * 5000,
    "arabic-indic-digits": "\u0661\u0662",
    "superscript-digit": "\u00b2",
    "exponent-string": "1e3",
    "hex-string": "0x10",
    "underscored-string": "1_000",
    "decimal-string": "7.0",
    "signed-string": "-7",
    "lone-surrogate": "\ud800",
    "nul-in-digits": "1\x002",
}
NOT_LIMITS: dict[str, Any] = {
    "digit-string": "5",
    "whole-float": 5.0,
    "2^63": 2**63,
    "10^30": 10**30,
    "minus-10^30": -(10**30),
    "1e300": 1e300,
    "lone-surrogate": "\ud800",
}
# Ids no column can hold (400), or that name nothing (404).
ODD_IDS: dict[str, tuple[Any, int | tuple[int, ...]]] = {
    "lone-surrogate": ("\ud800", 400),
    "nul": ("6b05\x006235", 400),
    "65-chars": ("f" * 65, 400),
    "astral": ("\U0001f600" * 4, 404),
    "rtl-override": ("\u202e" + "f" * 23, 404),
    "combining": ("e\u0301" * 10, 404),
    "zero-width": ("\u200b" * 8, 404),
}


def _const(value: Any) -> Payload:
    return lambda _w: value


def _bound(value: Any, build: Callable[[World, Any], Any]) -> Payload:
    """The payload `build(w, value)`, the value bound now (a comprehension's loop variable)
    rather than read when the case runs; typed, where a `v=value` default is not."""
    return lambda w: build(w, value)


def _not_objects(event: str, ns: str = "/chat") -> list[Case]:
    """The payload is a string, a list, a number or a boolean instead of an object."""
    return [
        Case(f"{event}-payload-string", event, _const("hello"), ns=ns),
        Case(f"{event}-payload-list", event, _const([{"chatId": UNKNOWN_ID}]), ns=ns),
        Case(f"{event}-payload-number", event, _const(42), ns=ns),
        Case(f"{event}-payload-bool", event, _const(True), ns=ns),
    ]


def _chat_ref(w: World, **fields: Any) -> dict[str, Any]:
    return {"productId": w.product, "recipientId": w.b.id} | fields


def _bad_ref_types(event: str, **extra: Any) -> list[Case]:
    """Malformed productId / recipientId / chatId, each otherwise naming the a-b chat."""
    bad_recipients = {
        "abc": "abc",
        "true": True,
        "float": 1.5,
        "list": [1],
        "negative": -1,
        **NOT_USER_IDS,
    }
    bad_products = {"object": {}, "true": True, "empty": "", "blank": "   ", "list": ["p"]}
    bad_chat_ids = {"int": 123, "true": True, "object": {}, "empty": "", "list": ["x"]}
    cases = [
        Case(
            f"{event}-recipientId-{name}",
            event,
            _bound(value, lambda w, v: _chat_ref(w, recipientId=v, **extra)),
        )
        for name, value in bad_recipients.items()
    ]
    cases += [
        Case(
            f"{event}-productId-{name}",
            event,
            _bound(value, lambda w, v: _chat_ref(w, productId=v, **extra)),
        )
        for name, value in bad_products.items()
    ]
    cases += [
        Case(f"{event}-chatId-{name}", event, _bound(value, lambda _w, v: {"chatId": v, **extra}))
        for name, value in bad_chat_ids.items()
    ]
    cases += [
        Case(
            f"{event}-chatId-{name}",
            event,
            _bound(value, lambda _w, v: {"chatId": v, **extra}),
            status,
        )
        for name, (value, status) in ODD_IDS.items()
    ]
    return cases


def _chat_ref_cases(event: str) -> list[Case]:
    """joinChat and markAsRead name a chat by chatId or by productId + recipientId."""
    return [
        Case(f"{event}-no-payload", event, NO_PAYLOAD),
        Case(f"{event}-empty-object", event, _const({})),
        *_not_objects(event),
        Case(f"{event}-productId-only", event, lambda w: {"productId": w.product}),
        Case(f"{event}-recipientId-only", event, lambda w: {"recipientId": w.b.id}),
        *_bad_ref_types(event),
        Case(
            f"{event}-chatId-contradicts-product",
            event,
            lambda w: _chat_ref(w, chatId=w.chat_id, productId=f"other-{w.product}"),
        ),
        Case(f"{event}-unknown-chatId", event, _const({"chatId": UNKNOWN_ID}), 404),
        Case(f"{event}-unknown-opaque-chatId", event, _const({"chatId": "no-such-chat"}), 404),
        Case(f"{event}-chatId-with-nul", event, _const({"chatId": "a\x00b"}), (400, 404)),
        Case(
            f"{event}-unknown-productId",
            event,
            lambda w: _chat_ref(w, productId=f"none-{w.product}"),
            404,
        ),
        Case(
            f"{event}-third-customer-chatId",
            event,
            lambda w: {"chatId": w.chat_id},
            (403, 404),
            actor="c",
        ),
        Case(
            f"{event}-third-customer-product",
            event,
            lambda w: {"productId": w.product, "recipientId": w.b.id},
            (403, 404),
            actor="c",
        ),
        Case(
            f"{event}-other-vendor-chatId",
            event,
            lambda w: {"chatId": w.chat_id},
            (403, 404),
            actor="y",
        ),
    ]


JOIN_CHAT = [
    *_chat_ref_cases("joinChat"),
    *(
        Case(
            f"joinChat-limit-{name}",
            "joinChat",
            _bound(value, lambda w, v: {"chatId": w.chat_id, "limit": v}),
        )
        for name, value in {
            "0": 0,
            "1000": 1000,
            "x": "x",
            "float": 1.5,
            "true": True,
            "negative": -1,
            **NOT_LIMITS,
        }.items()
    ),
    *(
        Case(
            f"joinChat-before-{name}",
            "joinChat",
            _bound(value, lambda w, v: {"chatId": w.chat_id, "before": v}),
        )
        for name, value in {
            "0": 0,
            "negative": -5,
            "object": {},
            "list": [1],
            "true": True,
            "float": 1.5,
            "65-chars": "b" * 65,  # its message named the validator's internals
            "empty": "",
        }.items()
    ),
    # Not a seq any chat can reach (nor a BIGINT).
    Case(
        "joinChat-before-huge-int",
        "joinChat",
        lambda w: {"chatId": w.chat_id, "before": 2**64},
        (400, 404),
    ),
    Case(
        "joinChat-before-huge-digit-string",
        "joinChat",
        lambda w: {"chatId": w.chat_id, "before": "9" * 30},
        (400, 404),
    ),
    # The page anchor does not exist: the whole event fails, so nothing is marked read.
    Case(
        "joinChat-before-unknown-message",
        "joinChat",
        lambda w: {"chatId": w.chat_id, "before": UNKNOWN_ID},
        404,
    ),
    Case(
        "joinChat-before-message-of-another-chat",
        "joinChat",
        lambda w: {"chatId": w.chat_id, "before": w.bystander_message},
        404,
    ),
]

MARK_AS_READ = _chat_ref_cases("markAsRead")


def _chat_list_cases(event: str) -> list[Case]:
    """joinRooms and getUserChats: everything is optional, but what is given must fit."""
    return [
        *_not_objects(event),
        *(
            Case(f"{event}-limit-{name}", event, _const({"limit": value}))
            for name, value in {
                "0": 0,
                "1000": 1000,
                "x": "x",
                "float": 1.5,
                "true": True,
                "negative": -1,
                **NOT_LIMITS,
            }.items()
        ),
        Case(f"{event}-before-int", event, _const({"before": 123})),
        Case(f"{event}-before-object", event, _const({"before": {}})),
        Case(f"{event}-before-unknown-chat", event, _const({"before": UNKNOWN_ID}), 404),
        Case(f"{event}-before-with-nul", event, _const({"before": "a\x00b"}), (400, 404)),
        Case(
            f"{event}-before-another-users-chat",
            event,
            lambda w: {"before": w.bystander_chat},
            (403, 404),
        ),
    ]


JOIN_ROOMS = _chat_list_cases("joinRooms")
GET_USER_CHATS = _chat_list_cases("getUserChats")


def _send(w: World, **fields: Any) -> dict[str, Any]:
    """A valid message from a to b in their chat, with `fields` replaced (None: left out)."""
    payload = {"productId": w.product, "recipientId": w.b.id, "text": "a fine message"}
    return {k: v for k, v in (payload | fields).items() if v is not None}


def _send_new(w: World, **fields: Any) -> dict[str, Any]:
    """A valid first message from a customer to b about a product with no chat yet."""
    payload = {
        "productId": f"new-{next_id()}",  # never reused, so a wrong success cannot spread
        "recipientId": w.b.id,
        "text": "a first message",
        **new_chat_fields(),
    }
    return {k: v for k, v in (payload | fields).items() if v is not None}


SEND_MESSAGE = [
    Case("sendMessage-no-payload", "sendMessage", NO_PAYLOAD),
    Case("sendMessage-empty-object", "sendMessage", _const({})),
    *_not_objects("sendMessage"),
    Case("sendMessage-missing-recipientId", "sendMessage", lambda w: _send(w, recipientId=None)),
    Case("sendMessage-missing-productId", "sendMessage", lambda w: _send(w, productId=None)),
    Case("sendMessage-missing-text", "sendMessage", lambda w: _send(w, text=None)),
    Case("sendMessage-text-null", "sendMessage", lambda w: {**_send(w), "text": None}),
    *(
        Case(
            f"sendMessage-recipientId-{name}",
            "sendMessage",
            _bound(value, lambda w, v: _send(w, recipientId=v)),
        )
        for name, value in {
            "abc": "abc",
            "true": True,
            "float": 1.5,
            "list": [1],
            "object": {},
            "negative": -1,
            "huge": 2**64,
            **NOT_USER_IDS,
        }.items()
    ),
    *(
        Case(
            f"sendMessage-productId-{name}",
            "sendMessage",
            _bound(value, lambda w, v: _send(w, productId=v)),
        )
        for name, value in {
            "object": {},
            "true": True,
            "empty": "",
            "blank": "   ",
            "list": ["p"],
        }.items()
    ),
    *(
        Case(
            f"sendMessage-text-{name}", "sendMessage", _bound(value, lambda w, v: _send(w, text=v))
        )
        for name, value in {
            "int": 123,
            "true": True,
            "list": ["hi"],
            "object": {"text": "hi"},
            "empty": "",
            "blank": "   ",
            "whitespace": " \n\t ",
            "binary": b"hello",  # a binary attachment, not a string
            "lone-surrogate": "\ud800",  # not Unicode text
        }.items()
    ),
    Case(
        "sendMessage-productId-binary",
        "sendMessage",
        lambda w: _send(w, productId=w.product.encode()),
    ),
    Case(
        "sendMessage-text-too-long",
        "sendMessage",
        lambda w: _send(w, text="a" * (MAX_TEXT + 1)),
        413,
    ),
    Case(
        "sendMessage-text-much-too-long",
        "sendMessage",
        # Far over the text limit, under the 64 KiB packet cap (a larger packet closes the
        # connection: tests/e2e/test_limits.py).
        lambda w: _send(w, text="long words " * 5_000),
        413,
    ),
    Case(
        "sendMessage-text-too-long-new-chat",
        "sendMessage",
        lambda w: _send_new(w, text="é" * (MAX_TEXT + 1)),
        413,
    ),
    Case(
        "sendMessage-new-chat-productId-blank",
        "sendMessage",
        lambda w: _send_new(w, productId="   "),
        actor="d",  # the same (blank) product every run: keep its possible chat out of a's way
    ),
    Case("sendMessage-blank-text-new-chat", "sendMessage", lambda w: _send_new(w, text="  ")),
    *(
        Case(
            f"sendMessage-clientMessageId-{name}",
            "sendMessage",
            _bound(value, lambda w, v: _send(w, clientMessageId=v)),
        )
        for name, value in {"int": 123, "empty": "", "list": ["c-1"], "too-long": "c" * 129}.items()
    ),
    # A new chat needs productName, storeName and customerName.
    *(
        Case(
            f"sendMessage-new-chat-without-{name}",
            "sendMessage",
            _bound(name, lambda w, n: _send_new(w, **{n: None})),
        )
        for name in ("productName", "storeName", "customerName")
    ),
    *(
        Case(
            f"sendMessage-new-chat-empty-{name}",
            "sendMessage",
            _bound(name, lambda w, n: _send_new(w, **{n: ""})),
        )
        for name in ("productName", "storeName", "customerName")
    ),
    Case(
        "sendMessage-new-chat-without-any-details",
        "sendMessage",
        lambda w: {"productId": f"new-{next_id()}", "recipientId": w.b.id, "text": "hello?"},
    ),
    Case(
        "sendMessage-new-chat-productName-object",
        "sendMessage",
        lambda w: _send_new(w, productName={"en": "Headphones"}),
    ),
    Case(
        "sendMessage-new-chat-productPrice-true",
        "sendMessage",
        lambda w: _send_new(w, productPrice=True),
    ),
]


def _delete(w: World, **fields: Any) -> dict[str, Any]:
    return {"productId": w.product, "recipientId": w.b.id, "messageId": w.a_message} | fields


DELETE_MESSAGE = [
    Case("deleteMessage-no-payload", "deleteMessage", NO_PAYLOAD),
    Case("deleteMessage-empty-object", "deleteMessage", _const({})),
    *_not_objects("deleteMessage"),
    Case(
        "deleteMessage-missing-messageId",
        "deleteMessage",
        lambda w: {"productId": w.product, "recipientId": w.b.id},
    ),
    *(
        Case(
            f"deleteMessage-messageId-{name}",
            "deleteMessage",
            _bound(value, lambda w, v: _delete(w, messageId=v)),
        )
        for name, value in {
            "int": 123,
            "true": True,
            "empty": "",
            "list": ["x"],
            "object": {},
        }.items()
    ),
    *(
        Case(
            f"deleteMessage-messageId-{name}",
            "deleteMessage",
            _bound(value, lambda w, v: _delete(w, messageId=v)),
            status,
        )
        for name, (value, status) in ODD_IDS.items()
    ),
    Case("deleteMessage-recipientId-abc", "deleteMessage", lambda w: _delete(w, recipientId="abc")),
    Case("deleteMessage-recipientId-float", "deleteMessage", lambda w: _delete(w, recipientId=1.5)),
    Case("deleteMessage-productId-object", "deleteMessage", lambda w: _delete(w, productId={})),
    Case("deleteMessage-unknown-message", "deleteMessage", _const({"messageId": UNKNOWN_ID}), 404),
    Case(
        "deleteMessage-messageId-with-nul",
        "deleteMessage",
        _const({"messageId": "a\x00b"}),
        (400, 404),
    ),
    Case(
        "deleteMessage-unknown-message-with-chat",
        "deleteMessage",
        lambda w: _delete(w, messageId=UNKNOWN_ID),
        404,
    ),
    Case(
        "deleteMessage-already-deleted",
        "deleteMessage",
        lambda w: {"messageId": w.deleted},
        404,
    ),
    Case(
        "deleteMessage-message-not-in-named-chat",
        "deleteMessage",
        lambda w: _delete(w, productId=f"other-{w.product}"),
        (400, 404),
    ),
    Case(
        "deleteMessage-third-customer",
        "deleteMessage",
        lambda w: {"messageId": w.a_message},
        (403, 404),
        actor="c",
    ),
    Case(
        "deleteMessage-third-customer-with-chat",
        "deleteMessage",
        lambda w: {"productId": w.product, "recipientId": w.b.id, "messageId": w.a_message},
        (403, 404),
        actor="c",
    ),
    Case(
        "deleteMessage-vendor-deletes-customers-message",
        "deleteMessage",
        lambda w: {"productId": w.product, "recipientId": w.a.id, "messageId": w.a_message},
        403,
        actor="b",
    ),
    Case(
        "deleteMessage-vendor-deletes-customers-message-by-id",
        "deleteMessage",
        lambda w: {"messageId": w.a_message},
        403,
        actor="b",
    ),
    Case(
        "deleteMessage-customer-deletes-vendors-message",
        "deleteMessage",
        lambda w: {"messageId": w.b_message},
        403,
    ),
]


def _typing_cases(event: str) -> list[Case]:
    return [
        Case(f"{event}-no-payload", event, NO_PAYLOAD),
        Case(f"{event}-empty-object", event, _const({})),
        *_not_objects(event),
        Case(f"{event}-missing-recipientId", event, lambda w: {"productId": w.product}),
        Case(f"{event}-missing-productId", event, lambda w: {"recipientId": w.b.id}),
        Case(f"{event}-chatId-only", event, lambda w: {"chatId": w.chat_id}),
        *(c for c in _bad_ref_types(event) if "-chatId-" not in c.id),
    ]


TYPING = _typing_cases("typing")
STOPPED_TYPING = _typing_cases("stoppedTyping")


def _search(
    name: str, payload: Payload | None, status: int | tuple[int, ...] = 400, **kw: Any
) -> Case:
    return Case(f"searchMessages-{name}", "searchMessages", payload, status, **kw)


SEARCH_MESSAGES = [
    _search("no-payload", NO_PAYLOAD),
    _search("empty-object", _const({})),
    *_not_objects("searchMessages"),
    *(
        _search(f"query-{name}", _const({"query": value}))
        for name, value in {
            "empty": "",
            "one-letter": "h",
            "one-letter-padded": "  h  ",
            "only-punctuation": "?!",
            "only-operators": '"*" () &| !:* <->',
            "201-chars": "h" * 201,
            "null": None,
            "int": 12,
            "list": ["hello"],
            "lone-surrogate": "he\ud800llo",
            "nul": "hel\x00lo",
        }.items()
    ),
    *(
        _search(f"limit-{name}", _const({"query": "hello", "limit": value}))
        for name, value in {"zero": 0, "51": 51, "negative": -1, **NOT_LIMITS}.items()
    ),
    *(
        _search(f"before-{name}", _const({"query": "hello", "before": value}))
        for name, value in {
            "garbage": "next-page-please",
            "forged": "v1.c2VhcmNoOkNVU1RPTUVSOjE6MToxMjM.AAAAAAAAAAAAAAAAAAAAAA",
            "empty": "",
            "int": 5,
            "257-chars": "v" * 257,
        }.items()
    ),
    _search(
        "before-a-sync-cursor",
        lambda w: {"query": "hello", "before": w.a.received("userChats")[0]["syncCursor"]},
    ),
    _search("chatId-unknown", _const({"query": "hello", "chatId": UNKNOWN_ID}), 404),
    _search("chatId-int", _const({"query": "hello", "chatId": 5})),
    _search(
        "chatId-of-others-third-customer",
        lambda w: {"query": "hello", "chatId": w.chat_id},
        (403, 404),
        actor="c",
    ),
    _search(
        "chatId-of-others-vendor",
        lambda w: {"query": "bystanding", "chatId": w.chat_id},
        (403, 404),
        actor="y",
    ),
]


def _presence(event_id: str, payload: Payload | None, status: int = 400, actor: str = "a") -> Case:
    return Case(event_id, "checkOnlinePresence", payload, status, actor=actor, ns="/presence")


CHECK_ONLINE_PRESENCE = [
    _presence("checkOnlinePresence-no-payload", NO_PAYLOAD),
    _presence("checkOnlinePresence-empty-object", _const({})),
    *_not_objects("checkOnlinePresence", ns="/presence"),
    _presence("checkOnlinePresence-missing-userType", lambda w: {"userId": w.b.id}),
    _presence("checkOnlinePresence-missing-userId", _const({"userType": "VENDOR"})),
    *(
        _presence(
            f"checkOnlinePresence-userId-{name}",
            _bound(value, lambda _w, v: {"userId": v, "userType": "VENDOR"}),
        )
        for name, value in {
            "abc": "abc",
            "true": True,
            "float": 1.5,
            "list": [1],
            "object": {},
            **NOT_USER_IDS,
        }.items()
    ),
    *(
        _presence(
            f"checkOnlinePresence-userType-{name}",
            _bound(value, lambda w, v: {"userId": w.b.id, "userType": v}),
        )
        for name, value in {
            "martian": "MARTIAN",
            "int": 5,
            "null": None,
            "list": ["VENDOR"],
            "system": "SYSTEM",  # a role, but not one a client may ask about
            # Unicode letters whose upper case is ASCII: "adm\u0131n".upper() == "ADMIN"
            "dotless-i": "adm\u0131n",
            "long-s": "cu\u017ftomer",
            "fullwidth": "\uff36\uff25\uff2e\uff24\uff2f\uff32",
        }.items()
    ),
    _presence(
        "checkOnlinePresence-unrelated-customer",
        lambda w: {"userId": w.c.id, "userType": "CUSTOMER"},
        403,
    ),
    _presence(
        "checkOnlinePresence-third-customer-asks-customer",
        lambda w: {"userId": w.a.id, "userType": "CUSTOMER"},
        403,
        actor="c",
    ),
    _presence(
        "checkOnlinePresence-vendor-without-shared-chat",
        lambda w: {"userId": w.a.id, "userType": "CUSTOMER"},
        403,
        actor="y",
    ),
]


def _block_cases(event: str) -> list[Case]:
    def case(name: str, payload: Any) -> Case:
        return Case(f"{event}-{name}", event, _const(payload))

    return [
        Case(f"{event}-no-payload", event, NO_PAYLOAD),
        case("empty-object", {}),
        *_not_objects(event),
        case("missing-userType", {"userId": 7}),
        case("missing-userId", {"userType": "VENDOR"}),
        case("userId-text", {"userId": "seven", "userType": "VENDOR"}),
        case("userId-negative", {"userId": -1, "userType": "VENDOR"}),
        case("userType-system", {"userId": 7, "userType": "SYSTEM"}),
        # The caller (customer a) can block vendors only.
        case("userType-own-role", {"userId": 7, "userType": "CUSTOMER"}),
        case("userType-admin", {"userId": 7, "userType": "ADMIN"}),
    ]


BLOCK_USER = _block_cases("blockUser")
UNBLOCK_USER = _block_cases("unblockUser")


def _report(name: str, event: str, payload: Payload | None, status: Any = 400, **kw: Any) -> Case:
    return Case(f"{event}-{name}", event, payload, status, **kw)


REPORT_MESSAGE = [
    _report("no-payload", "reportMessage", NO_PAYLOAD),
    _report("empty-object", "reportMessage", _const({})),
    *_not_objects("reportMessage"),
    _report("no-reason", "reportMessage", lambda w: {"messageId": w.b_message}),
    *(
        _report(
            f"reason-{name}",
            "reportMessage",
            _bound(value, lambda w, v: {"messageId": w.b_message, "reason": v}),
        )
        for name, value in {"unknown": "rude", "null": None, "int": 3, "upper": "SPAM"}.items()
    ),
    _report(
        "note-1001-chars",
        "reportMessage",
        lambda w: {"messageId": w.b_message, "reason": "spam", "note": "n" * 1001},
    ),
    _report(
        "note-int",
        "reportMessage",
        lambda w: {"messageId": w.b_message, "reason": "spam", "note": 5},
    ),
    _report(
        "unknown-message", "reportMessage", _const({"messageId": UNKNOWN_ID, "reason": "spam"}), 404
    ),
    _report(
        "deleted-message",
        "reportMessage",
        lambda w: {"messageId": w.deleted, "reason": "spam"},
        404,
        actor="b",
    ),
    _report("own-message", "reportMessage", lambda w: {"messageId": w.a_message, "reason": "spam"}),
    _report(
        "bystanders-message",
        "reportMessage",
        lambda w: {"messageId": w.bystander_message, "reason": "spam"},
        403,
    ),
]

REPORT_USER = [
    _report("no-payload", "reportUser", NO_PAYLOAD),
    _report("empty-object", "reportUser", _const({})),
    *_not_objects("reportUser"),
    _report("no-userType", "reportUser", lambda w: {"userId": w.b.id, "reason": "spam"}),
    *(
        _report(
            f"userType-{name}",
            "reportUser",
            _bound(value, lambda w, v: {"userId": w.b.id, "userType": v, "reason": "spam"}),
        )
        for name, value in {
            "admin": "ADMIN",
            "system": "SYSTEM",
            "int": 5,
            "dotless-i": "vendor\u0131",
        }.items()
    ),
    *(
        _report(
            f"userId-{name}",
            "reportUser",
            _bound(value, lambda _w, v: {"userId": v, "userType": "VENDOR", "reason": "spam"}),
        )
        for name, value in NOT_USER_IDS.items()
    ),
    _report(
        "chatId-int",
        "reportUser",
        lambda w: {"userId": w.b.id, "userType": "VENDOR", "reason": "spam", "chatId": 5},
    ),
    _report(
        "chatId-of-bystanders",
        "reportUser",
        lambda w: {
            "userId": w.b.id,
            "userType": "VENDOR",
            "reason": "spam",
            "chatId": w.bystander_chat,
        },
        403,
    ),
    _report(
        "same-role",
        "reportUser",
        lambda w: {"userId": w.c.id, "userType": "CUSTOMER", "reason": "spam"},
        403,
    ),
    _report(
        "no-shared-chat",
        "reportUser",
        lambda w: {"userId": w.y.id, "userType": "VENDOR", "reason": "spam"},
        403,
    ),
]

CHAT_CASES = [
    *JOIN_CHAT,
    *JOIN_ROOMS,
    *GET_USER_CHATS,
    *SEND_MESSAGE,
    *MARK_AS_READ,
    *DELETE_MESSAGE,
    *TYPING,
    *STOPPED_TYPING,
    *SEARCH_MESSAGES,
    *BLOCK_USER,
    *UNBLOCK_USER,
    *REPORT_MESSAGE,
    *REPORT_USER,
]
assert len({c.id for c in [*CHAT_CASES, *CHECK_ONLINE_PRESENCE]}) == len(CHAT_CASES) + len(
    CHECK_ONLINE_PRESENCE
)


# --- checks -----------------------------------------------------------------------------


def assert_app_error(ack: Any, status: int | tuple[int, ...]) -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert isinstance(ack, dict), ack
    assert ack.get("error") is True, ack
    assert ack.get("statusCode") in statuses, ack
    assert isinstance(ack.get("message"), str), ack
    assert speaks_the_protocol(ack["message"]), ack


async def new_events(client: Client, mark: int, count: int) -> list[Any]:
    """The events `client` received after `mark`, once there are `count` (or after 5 s)."""
    for _ in range(500):
        if len(client.events) - mark >= count:
            break
        await asyncio.sleep(0.01)
    return client.events[mark:]


async def flush(client: Client, vendor_id: int) -> Any:
    """A round trip on `client`'s connection (a presence query about a vendor, which anyone
    may make); anything emitted to the client before it has arrived when it returns."""
    return await _ok(
        client, "checkOnlinePresence", {"userId": vendor_id, "userType": "VENDOR"}, "/presence"
    )


async def bystanders_still_chat(w: World) -> None:
    word = f"still fine {next_id()}"
    await _ok(
        w.x, "sendMessage", {"productId": w.bystander_product, "recipientId": w.y.id, "text": word}
    )
    await w.y.wait("receiveMessage", lambda d: d["data"][0]["text"] == word)
    answer = f"indeed {next_id()}"
    await _ok(
        w.y,
        "sendMessage",
        {"productId": w.bystander_product, "recipientId": w.x.id, "text": answer},
    )
    await w.x.wait("receiveMessage", lambda d: d["data"][0]["text"] == answer)


async def check_bad_event(w: World, db: AsyncEngine, case: Case) -> None:
    requester: Client = getattr(w, case.actor)
    others = [c for c in w.everyone() if c is not requester]
    involved = w.involved()
    for client in w.everyone():
        assert client.sio.connected, f"{client.role} {client.id} lost its connection earlier"
    marks = {id(c): len(c.events) for c in w.everyone()}
    before = await snapshot(db, *involved)

    payload = None if case.payload is None else case.payload(w)
    ack = await requester.call(case.event, payload, ns=case.ns)

    assert_app_error(ack, case.status)
    got = await new_events(requester, marks[id(requester)], 1)
    assert got == [(case.ns, "appError", ack)], got

    flushed = await asyncio.gather(asyncio.sleep(QUIET), *(flush(c, w.b.id) for c in others))
    for client, reply in zip(others, flushed[1:], strict=True):
        assert client.events[marks[id(client)] :] == [("/presence", "onlinePresence", reply)], (
            f"{client.role} {client.id} was told about another user's bad {case.event}"
        )
    assert requester.events[marks[id(requester)] :] == got, "more than one reply"

    assert await snapshot(db, *involved) == before
    await bystanders_still_chat(w)


@pytest.mark.parametrize("case", CHAT_CASES, ids=lambda c: c.id)
async def test_bad_chat_event(world: World, db: AsyncEngine, case: Case) -> None:
    await check_bad_event(world, db, case)


@pytest.mark.parametrize("case", CHECK_ONLINE_PRESENCE, ids=lambda c: c.id)
async def test_bad_presence_event(world: World, db: AsyncEngine, case: Case) -> None:
    await check_bad_event(world, db, case)


async def test_nothing_arrived_late(world: World) -> None:
    """Since the setup, the shared users have received nothing but the replies to their own
    requests: appErrors for the bad events, onlinePresence for the flushes."""
    await asyncio.sleep(LATE)
    for client in (world.a, world.b, world.c, world.d):
        late = [
            (ns, name, data)
            for ns, name, data in client.events[world.settled[id(client)] :]
            if (ns, name)
            not in {
                ("/chat", "appError"),
                ("/presence", "appError"),
                ("/presence", "onlinePresence"),
            }
        ]
        assert late == [], f"{client.role} {client.id} received {late}"


async def test_the_shared_chat_is_intact_afterwards(world: World, db: AsyncEngine) -> None:
    """After all the bad events, the a-b chat still works and was never marked read."""
    rows = await snapshot(db, [world.a.id], [world.b.id])
    unread = {row["id"] for row in rows["messages"] if not row["read"]}
    assert {world.a_message, world.b_message} <= unread
    ack = await _ok(
        world.a,
        "sendMessage",
        {"productId": world.product, "recipientId": world.b.id, "text": "ok"},
    )
    await world.b.wait("receiveMessage", lambda d: d["data"][0]["id"] == ack["data"]["id"])


# --- NUL characters --------------------------------------------------------------------

NUL_FIELDS = ["text", "productId", "productName", "storeName", "customerName"]


@pytest.mark.parametrize("field", NUL_FIELDS)
async def test_nul_character_is_stored_or_refused(
    connect: UserFactory, db: AsyncEngine, field: str
) -> None:
    """A NUL character inside a string (valid JSON, valid Unicode) is either kept as sent or
    refused as a bad payload (400) on every backend, never a server fault."""
    vendor = await connect("vendor")
    customer = await connect("customer")
    payload = {
        "productId": f"nul-{next_id()}",
        "recipientId": vendor.id,
        "text": "hello",
        **new_chat_fields(),
    }
    payload[field] = f"{payload[field]}\x00!"
    before = await snapshot(db, [customer.id], [vendor.id])
    mark = len(customer.events)

    ack = await customer.call("sendMessage", payload)

    if ack.get("error") is False:
        chat = (await vendor.wait("newChat"))["message"]
        stored = {"text": chat["messages"][0]["text"], **chat}
        assert stored[field] == payload[field]
        return
    assert_app_error(ack, 400)
    assert await new_events(customer, mark, 1) == [("/chat", "appError", ack)]
    assert await snapshot(db, [customer.id], [vendor.id]) == before


# --- unknown and reserved event names ---------------------------------------------------

ODD_EVENTS = [
    ("/chat", "fooBar", {}),
    ("/chat", "fooBar", None),
    ("/chat", "disconnect", None),
    ("/chat", "disconnect", {}),
    ("/chat", "connect", None),
    ("/chat", "connect", {"token": "x"}),
    ("/chat", "connect_error", None),
    ("/chat", "message", "hello"),
    ("/chat", "__disconnect_final", None),
    ("/chat", "receiveMessage", {}),  # a server-to-client event sent the wrong way
    ("/chat", "checkOnlinePresence", {"userId": 1, "userType": "VENDOR"}),  # wrong namespace
    ("/presence", "fooBar", {}),
    ("/presence", "disconnect", None),
    ("/presence", "connect", None),
    ("/presence", "sendMessage", {"productId": "p", "recipientId": 1, "text": "hi"}),
]


@pytest.mark.parametrize(
    ("ns", "event", "payload"),
    ODD_EVENTS,
    ids=[
        f"{ns[1:]}-{event}-{'none' if p is None else type(p).__name__}"
        for ns, event, p in ODD_EVENTS
    ],
)
async def test_unknown_and_reserved_events(
    connect: UserFactory, db: AsyncEngine, ns: str, event: str, payload: Any
) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    product = f"odd-{next_id()}"
    await _ok(
        customer,
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "first", **new_chat_fields()},
    )
    await vendor.wait("newChat")
    mark = len(customer.events)
    vendor_mark = len(vendor.events)
    before = await snapshot(db, [customer.id], [vendor.id])

    await customer.emit(event, payload, ns=ns)  # without an ack callback
    (told,) = await new_events(customer, mark, 1)
    ack = await customer.call(event, payload, ns=ns)  # and with one

    assert_app_error(ack, 400)
    assert told == (ns, "appError", ack)
    assert await new_events(customer, mark, 2) == [told, told]
    assert await snapshot(db, [customer.id], [vendor.id]) == before
    reply, _ = await asyncio.gather(flush(vendor, vendor.id), asyncio.sleep(QUIET))
    assert vendor.events[vendor_mark:] == [("/presence", "onlinePresence", reply)]

    # The connection is still open and usable on both namespaces.
    assert customer.sio.connected
    assert set(customer.sio.namespaces) >= {"/chat", "/presence"}
    sent = await _ok(
        customer,
        "sendMessage",
        {"productId": product, "recipientId": vendor.id, "text": "still here"},
    )
    got = await vendor.wait("receiveMessage", lambda d: d["data"][0]["id"] == sent["data"]["id"])
    assert got["data"][0]["text"] == "still here"
    presence = await _ok(
        vendor,
        "checkOnlinePresence",
        {"userId": customer.id, "userType": "CUSTOMER"},
        "/presence",
    )
    assert presence["data"]["status"] == "online"
