"""Random interleavings of send, edit, react, unreact, delete and markAsRead, through the
services on a migrated database of each engine, keep the stored invariants: at most one
reaction per participant per message and `reaction_count` equal to the rows; versions
only for edited messages, one per edit, the last one holding the text before the current
one; nothing left of a deleted message's versions or reactions; replies only within their
chat; and what a listing shows equal to what is stored."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from slychat.config.settings import Settings
from slychat.container import Container
from slychat.domain.errors import AppError
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails
from slychat.services.chats import ChatRef
from slychat.services.messages import SendCommand
from slychat.storage.migrate import upgrade
from tests.conftest import fresh_postgres_database

CUSTOMER = User(Role.CUSTOMER, 7)
VENDOR = User(Role.VENDOR, 9)
PARTIES = (CUSTOMER, VENDOR)
EMOJI = ("👍", "❤️", "👍🏽", "👩‍👩‍👧‍👦", "🇫🇷")
DETAILS = ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann")

# One step: (action, actor index, message index among those sent so far, a choice).
steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "reply", "edit", "react", "unreact", "delete", "read"]),
        st.integers(0, 1),
        st.integers(0, 30),
        st.integers(0, len(EMOJI) - 1),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each engine, shared by the examples (each example opens a
    chat of its own)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('invariants') / 'slychat.db'}"
        upgrade(url)
        yield url
    else:
        with fresh_postgres_database() as url:
            upgrade(url)
            yield url


def _container(url: str, media: Path) -> Container:
    return Container.build(
        Settings(
            database_url=url,
            jwt_secret="s" * 32,
            rate_limits=False,
            media_dir=str(media),
            edit_window=3600,
        )
    )


async def _run(c: Container, product: str, plan: list[tuple[str, int, int, int]]) -> None:
    first = await c.messages.send(
        CUSTOMER, SendCommand(product, VENDOR.id, "hello", details=DETAILS)
    )
    chat_id = first.message.chat_id
    ids = [first.message.id]
    for action, who, pick, choice in plan:
        actor = PARTIES[who]
        target = ids[pick % len(ids)]
        other = PARTIES[1 - who]
        try:
            if action in ("send", "reply"):
                cmd = SendCommand(
                    product,
                    other.id,
                    f"m{len(ids)}",
                    reply_to=target if action == "reply" else None,
                )
                ids.append((await c.messages.send(actor, cmd)).message.id)
            elif action == "edit":
                await c.messages.edit(actor, target, f"edit {choice} of {target[-4:]}")
            elif action == "react":
                await c.messages.react(actor, target, EMOJI[choice])
            elif action == "unreact":
                await c.messages.react(actor, target, None)
            elif action == "delete":
                await c.messages.delete(actor, target, None)
            else:
                await c.chats.mark_read(actor, ChatRef(chat_id))
        except AppError:
            pass  # a refusal (not the sender, deleted, a reply to a deleted one): fine
    await _check(c, chat_id)


async def _rows(c: Container, sql: str, **params: Any) -> list[Any]:
    async with c.db.read() as conn:
        return list(await conn.execute(text(sql), params))


async def _check(c: Container, chat_id: str) -> None:
    messages = {
        r.id: r
        for r in await _rows(c, "SELECT * FROM messages WHERE chat_id = :chat", chat=chat_id)
    }
    reactions = await _rows(
        c,
        "SELECT r.* FROM message_reactions r JOIN messages m ON m.id = r.message_id "
        "WHERE m.chat_id = :chat",
        chat=chat_id,
    )
    versions = await _rows(
        c,
        "SELECT v.* FROM message_versions v JOIN messages m ON m.id = v.message_id "
        "WHERE m.chat_id = :chat ORDER BY v.message_id, v.version",
        chat=chat_id,
    )
    # One reaction per participant per message, by participants only, counted right.
    who = [(r.message_id, r.user_type, r.user_id) for r in reactions]
    assert len(who) == len(set(who))
    assert {(t, u) for _, t, u in who} <= {(p.role.value, p.id) for p in PARTIES}
    for mid, m in messages.items():
        assert m.reaction_count == sum(1 for r in reactions if r.message_id == mid)
    by_message: dict[str, list[Any]] = {}
    for v in versions:
        by_message.setdefault(v.message_id, []).append(v)
    for mid, m in messages.items():
        kept = by_message.get(mid, [])
        if m.deleted_at is not None:  # a tombstone keeps nothing of its content
            assert (m.text, m.reaction_count, kept) == (None, 0, [])
            continue
        # Versions only for edited messages, numbered 1.., each edit changed the text.
        assert bool(kept) == (m.edited_at is not None)
        assert [v.version for v in kept] == list(range(1, len(kept) + 1))
        texts = [v.text for v in kept] + [m.text]
        assert all(a != b for a, b in itertools.pairwise(texts))
        assert all(v.replaced_at <= (m.edited_at or 0) for v in kept)
        if m.reply_to_id is not None:
            assert messages[m.reply_to_id].chat_id == chat_id
    # What the chat's listing shows is what is stored, quotes as they read now.
    view, _ = await c.chats.open_chat(CUSTOMER, ChatRef(chat_id), None, 200)
    for shown in view.messages:
        row = messages[shown.id]
        assert shown.text == row.text
        assert shown.edited_at == row.edited_at
        assert len(shown.reactions) == row.reaction_count
        if row.reply_to_id is not None:
            quoted = messages[row.reply_to_id]
            assert shown.reply_to is not None
            assert shown.reply_to.deleted == (quoted.deleted_at is not None)
            assert shown.reply_to.text == (None if quoted.text is None else quoted.text[:200])
    assert {m.id for m in view.messages} == {i for i, m in messages.items() if m.deleted_at is None}


_examples = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_random_interleavings_keep_the_invariants(
    database: str, tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[str, int, int, int]]
) -> None:
    media = tmp_path_factory.getbasetemp() / "invariants-media"

    async def example() -> None:
        container = _container(database, media)
        try:
            await _run(container, f"inv-{next(_examples)}", plan)
        finally:
            await container.close()

    asyncio.run(example())
