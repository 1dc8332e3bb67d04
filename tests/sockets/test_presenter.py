"""The presenter is the one emitter: every server event the AsyncAPI document names (but
Socket.IO's own connect_error) is emitted by it, on its documented namespace, with a body
its documented payload schema accepts; and nothing else is emitted. The presenter is fed
one of every domain event and asked for every reply, with a recorder in place of the
socketio server (the shapes are under test here, not the transport)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from slychat.contracts import asyncapi
from slychat.contracts.asyncapi import server_key
from slychat.domain.errors import Forbidden, RateLimited
from slychat.domain.identity import Role, User
from slychat.domain.models import (
    Block,
    Chat,
    ChatDetails,
    ChatKey,
    ChatSettings,
    ChatView,
    FeedEntry,
    Media,
    Message,
    Reaction,
)
from slychat.protocol.cursors import CursorCodec
from slychat.protocol.namespaces import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from slychat.services.chats import ChatList
from slychat.services.events import (
    BlocksChanged,
    ChatOpened,
    ChatStarted,
    MessageDeleted,
    MessageEdited,
    MessagesDelivered,
    MessageSent,
    MessagesRead,
    PresenceChanged,
    ReactionsChanged,
    SettingsChanged,
    Typing,
)
from slychat.services.presence import PresenceStatus
from slychat.services.search import SearchPage, SearchPosition
from slychat.services.sync import Position, SyncPage
from slychat.sockets.presenter import Presenter
from tests.support import schema_validator

DOC = asyncapi.document()
NOW = 1_796_300_000_000
VENDOR = User(Role.VENDOR, 7)
CUSTOMER = User(Role.CUSTOMER, 8)
KEY = ChatKey("sku-1", VENDOR.id, CUSTOMER.id)
CHAT = Chat("c" * 24, KEY, ChatDetails(product_name="Lamp"), 2, NOW, NOW, NOW)
PHOTO = Media("m" * 24, "k.jpg", "image/jpeg", 1200, "k.thumb.jpg", 640, 480)
TEXT = Message("a" * 24, CHAT.id, 1, CUSTOMER, "hi", NOW, True, customer_pos=1, vendor_pos=1)
WITH_FILE = Message(
    "b" * 24, CHAT.id, 2, VENDOR, None, NOW, False, media=(PHOTO,), media_count=1, vendor_pos=2
)

THUMB = Reaction("👍🏽", VENDOR, NOW)


class Recorder:
    """Stands in for the socketio server: keeps what would have been emitted."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, Any, Any]] = []

    async def emit(self, event: str, body: Any, *, to: Any, namespace: str) -> None:
        self.emitted.append((namespace, event, body, to))


async def _everything(present: Presenter) -> None:
    await present.publish(
        [
            ChatStarted(CHAT, TEXT, VENDOR),
            MessageSent(TEXT, (VENDOR, CUSTOMER)),
            MessageSent(WITH_FILE, (CUSTOMER,)),
            ChatOpened(CHAT, (CUSTOMER, VENDOR)),
            MessagesDelivered(CHAT.id, CUSTOMER, (TEXT.id,), NOW),
            MessagesRead(CHAT.id, VENDOR, CUSTOMER, (TEXT.id,), NOW, count=3),
            MessageDeleted(CHAT, TEXT.id, NOW),
            MessageEdited(CHAT, TEXT),
            ReactionsChanged(CHAT, TEXT.id, (THUMB,)),
            SettingsChanged(VENDOR, CHAT.id, ChatSettings(muted=True)),
            Typing(CUSTOMER, VENDOR, KEY.product_id, CHAT.id, stopped=False),
            Typing(CUSTOMER, VENDOR, KEY.product_id, None, stopped=True),
            PresenceChanged(CUSTOMER, True, None, (VENDOR,)),
            PresenceChanged(CUSTOMER, False, NOW, (VENDOR,)),
            PresenceChanged(VENDOR, False, NOW, ()),  # nobody to tell: nothing emitted
            BlocksChanged(VENDOR, (Block(VENDOR, CUSTOMER, NOW),)),
            BlocksChanged(CUSTOMER, ()),
        ]
    )
    view = ChatView(CHAT, [TEXT, WITH_FILE], unread_count=1)
    head = Position(5, NOW)
    await present.user_chats("s1", "Chats", VENDOR, ChatList([view], 1, head))
    await present.load_messages("s1", VENDOR, view)
    changes = [
        FeedEntry(1, "message", CHAT.id, NOW, message=TEXT),
        FeedEntry(2, "chat", CHAT.id, NOW, chat=CHAT),
        FeedEntry(3, "read", CHAT.id, NOW, message_ids=[TEXT.id], actor=CUSTOMER),
        FeedEntry(4, "delivered", CHAT.id, NOW, message_ids=[TEXT.id]),
        FeedEntry(5, "deleted", CHAT.id, NOW, message_id=TEXT.id),
        FeedEntry(6, "edited", CHAT.id, NOW, message_id=TEXT.id, message=TEXT),
        FeedEntry(7, "reactions", CHAT.id, NOW, message_id=TEXT.id, reactions=(THUMB,)),
        FeedEntry(8, "settings", CHAT.id, NOW, settings=ChatSettings(archived=True)),
    ]
    await present.sync_messages("s1", VENDOR, SyncPage(changes, False, head))
    await present.sync_messages("s1", VENDOR, SyncPage([], False, head, reset=True))
    await present.offline_messages("s1", VENDOR, [TEXT], True)
    await present.search_messages("s1", VENDOR, SearchPage([TEXT], True, SearchPosition(TEXT.id)))
    await present.search_messages("s1", VENDOR, SearchPage([], False, None))
    await present.blocked_users("s1", [Block(VENDOR, CUSTOMER, NOW)])
    await present.app_error("s1", CHAT_NAMESPACE, Forbidden("No"))
    await present.app_error("s2", PRESENCE_NAMESPACE, RateLimited(1.5, "Slow down"))
    await present.counted_online("s2", CUSTOMER)
    await present.online_presence("s2", PresenceStatus(VENDOR, False, NOW))


def _emitted() -> list[tuple[str, str, Any, Any]]:
    recorder = Recorder()
    present = Presenter(
        recorder,
        CursorCodec(b"k" * 32),
        lambda key: f"http://h/media/{key}",
        blocks=lambda viewer, _other: viewer == VENDOR,  # `blocked` true and false shown
    )
    asyncio.run(_everything(present))
    return recorder.emitted


EMITTED = _emitted()
DOCUMENTED = {
    (ns.address, event.name)
    for ns in asyncapi.NAMESPACES
    for event in ns.server
    if event.name != "connect_error"  # Socket.IO's own refusal of a handshake
}


def test_the_presenter_emits_every_documented_event_and_nothing_else() -> None:
    assert {(namespace, event) for namespace, event, _body, _to in EMITTED} == DOCUMENTED


def test_nothing_is_emitted_to_nobody() -> None:
    assert all(to for *_rest, to in EMITTED)


@pytest.mark.parametrize(
    ("namespace", "event", "body"),
    [(ns, event, body) for ns, event, body, _to in EMITTED],
    ids=[f"{ns} {event} {i}" for i, (ns, event, _b, _t) in enumerate(EMITTED)],
)
def test_each_body_is_what_the_asyncapi_document_says(
    namespace: str, event: str, body: Any
) -> None:
    message = DOC["components"]["messages"][server_key(event)]
    validator = schema_validator(DOC, message["payload"])
    assert [e.message for e in validator.iter_errors(body)] == []
    broken = {**body, "unexpected": True} if isinstance(body, dict) else body
    assert list(validator.iter_errors(broken)), "the check can fail"


def test_no_other_module_emits() -> None:
    """Handlers and routes ask the presenter; only the fan-out manager beneath it (which
    carries the presenter's emits to every node) calls `emit` too."""
    import ast

    from tests.support import ROOT

    beneath = {"sockets/presenter.py", "server/fanout.py"}
    package = ROOT / "src" / "slychat"
    emitting = set()
    for path in package.rglob("*.py"):
        name = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "emit":
                emitting.add(name)
    assert emitting == beneath
