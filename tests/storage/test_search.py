"""Message search on both engines: the full-text index, its scoping, ranking and paging,
and that it holds exactly the visible text through sends, edits, deletes and erasure."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.container import send_store_for
from slychat.domain.errors import Forbidden, Invalid, NotFound
from slychat.domain.identity import Role, User
from slychat.domain.ids import now_ms
from slychat.domain.models import ChatDetails, ChatKey, Message
from slychat.services.search import MAX_QUERY, SearchPosition, SearchService, words_of
from slychat.storage import admin_queries, search
from slychat.storage import repository as repo
from slychat.storage.database import Database
from slychat.storage.migrate import upgrade
from slychat.storage.send_batch import Outgoing

DETAILS = ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann")
BUDGET = 1_000_000


async def _send(
    db: Database, key: ChatKey, texts: Sequence[str], *, vendor: bool = False
) -> list[Message]:
    """Store `texts` in the chat at `key`, one transaction each (distinct times)."""
    store = send_store_for(db)
    sender = User(Role.VENDOR, key.vendor_id) if vendor else User(Role.CUSTOMER, key.customer_id)
    sent = []
    for body in texts:
        [stored] = await store.store(
            [Outgoing(key, None, sender, body, None, False, False, DETAILS)]
        )
        sent.append(stored.message)
    return sent


def _vendor(key: ChatKey) -> User:
    return User(Role.VENDOR, key.vendor_id)


async def _found(
    service: SearchService, user: User, query: str, chat_id: str | None = None, limit: int = 50
) -> list[str]:
    return [
        m.text or ""
        for m in (await service.search(user, words_of(query), chat_id, None, limit)).messages
    ]


async def _delete(db: Database, message_id: str) -> None:
    await db.write(lambda conn: repo.tombstone(conn, message_id, now_ms()))


async def test_results_are_newest_first_and_fold_case_accents_and_prefix(db: Database) -> None:
    key = ChatKey("p1", 10, 20)
    await _send(db, key, ["Le Café est ouvert", "CAFE noir", "the cafeteria", "un thé", "cafés"])
    service = SearchService(db, BUDGET)
    vendor = _vendor(key)

    # Newest first; accents and case folded on both sides; the last word is a prefix.
    assert await _found(service, vendor, "café") == [
        "cafés",
        "the cafeteria",
        "CAFE noir",
        "Le Café est ouvert",
    ]
    assert await _found(service, vendor, "CAFÉ NOIR") == ["CAFE noir"]
    assert await _found(service, vendor, "thé") == ["un thé", "the cafeteria"]
    # Only the last word is a prefix: every other word must match a whole word.
    assert await _found(service, vendor, "caf noir") == []
    assert await _found(service, vendor, "noir caf") == ["CAFE noir"]
    # Punctuation in the query is a separator, never syntax of either engine's language.
    assert await _found(service, vendor, 'cafe" OR "un') == []
    assert await _found(service, vendor, "ouvert) & !(est:*") == ["Le Café est ouvert"]
    assert await _found(service, vendor, "NEAR(un the)*") == []


async def test_a_strangers_and_a_deleted_message_are_never_found(db: Database) -> None:
    mine, theirs = ChatKey("p1", 10, 20), ChatKey("p1", 11, 21)
    [kept, gone] = await _send(db, mine, ["secret plan alpha", "secret plan beta"])
    await _send(db, theirs, ["secret plan gamma"])
    await _delete(db, gone.id)
    service = SearchService(db, BUDGET)

    assert await _found(service, _vendor(mine), "secret plan") == ["secret plan alpha"]
    assert await _found(service, User(Role.CUSTOMER, 20), "secret") == ["secret plan alpha"]
    assert await _found(service, _vendor(theirs), "secret") == ["secret plan gamma"]
    # A user of the other role with the same id is someone else.
    assert await _found(service, User(Role.CUSTOMER, 10), "secret") == []
    # One chat only, which the caller must take part in.
    other_chat = await db.write(lambda conn: repo.chat_by_key(conn, theirs))
    assert other_chat is not None
    with pytest.raises(Forbidden):
        await service.search(_vendor(mine), words_of("secret"), other_chat.id)
    with pytest.raises(NotFound):
        await service.search(_vendor(mine), words_of("secret"), "0" * 24)
    assert await _found(service, _vendor(mine), "secret", kept.chat_id) == ["secret plan alpha"]


async def test_paging_with_next_until_has_more_is_false(db: Database) -> None:
    keys = [ChatKey("p1", 10, 20), ChatKey("p2", 10, 21), ChatKey("p3", 10, 22)]
    sent: list[Message] = []
    for i in range(23):
        sent += await _send(db, keys[i % 3], [f"order number {i} shipped"], vendor=i % 2 == 0)
    await _send(db, keys[0], ["unrelated"])
    service = SearchService(db, BUDGET)
    vendor = User(Role.VENDOR, 10)

    seen: list[str] = []
    position: SearchPosition | None = None
    pages = 0
    while True:
        page = await service.search(vendor, words_of("order ship"), None, position, 5)
        pages += 1
        seen += [m.id for m in page.messages]
        if not page.has_more:
            assert page.next is None
            break
        assert page.next is not None
        assert len(page.messages) == 5
        position = page.next
        # Messages sent between pages never shift what comes next.
        await _send(db, keys[1], ["order shipped late"])

    newest_first = sorted(sent, key=lambda m: (m.created_at, m.id), reverse=True)
    assert seen == [m.id for m in newest_first]
    assert pages == 5


async def test_a_page_stops_within_the_list_budget(db: Database) -> None:
    key = ChatKey("p1", 10, 20)
    await _send(db, key, ["word " * 900 + str(i) for i in range(5)])
    service = SearchService(db, 12_000)

    page = await service.search(_vendor(key), words_of("word"), None, None, 50)

    assert 1 <= len(page.messages) < 5
    assert page.has_more
    assert page.next is not None


async def test_an_edit_of_the_text_is_what_search_finds(db: Database) -> None:
    """An UPDATE of messages.text (what an edit writes) moves the index with it."""
    key = ChatKey("p1", 10, 20)
    [m] = await _send(db, key, ["the old wording"])
    service = SearchService(db, BUDGET)

    async def edit(conn: AsyncConnection) -> None:
        await db_conn_execute(
            conn, "UPDATE messages SET text = :t WHERE id = :id", t="brand new phrasing", id=m.id
        )

    await db.write(edit)

    assert await _found(service, _vendor(key), "brand phras") == ["brand new phrasing"]
    assert await _found(service, _vendor(key), "wording") == []
    assert await _found(service, _vendor(key), "old") == []


async def db_conn_execute(conn: AsyncConnection, sql: str, **params: object) -> None:
    await conn.execute(text(sql), params)


_INTEGRITY_CHECK = (
    "INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)"
)
_VOCAB = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms "
    "USING fts5vocab(main, messages_search, 'instance')"
)


async def test_an_erased_users_text_leaves_the_index(db: Database) -> None:
    key = ChatKey("p1", 10, 20)
    await _send(db, key, ["my home address is here"])
    await _send(db, key, ["address received"], vendor=True)
    chat = await db.write(lambda conn: repo.chat_by_key(conn, key))
    assert chat is not None

    async def erase(conn: AsyncConnection) -> None:
        found = await admin_queries.live_messages_of(conn, chat, Role.CUSTOMER, 0, 100)
        await admin_queries.tombstone_many(conn, [i for i, _ in found], now_ms())

    await db.write(erase)
    service = SearchService(db, BUDGET)

    assert await _found(service, _vendor(key), "address") == ["address received"]
    assert await _found(service, _vendor(key), "home") == []
    if db.is_sqlite:  # the index itself holds none of the erased words
        assert await _indexed_terms(db) == {"address", "received"}


async def _indexed_terms(db: Database) -> set[str]:
    """SQLite: every term the FTS5 index holds, read from the index itself (fts5vocab)."""

    async def read(conn: AsyncConnection) -> set[str]:
        await db_conn_execute(conn, _VOCAB)
        rows = await conn.execute(text("SELECT term FROM temp.search_terms"))
        return {row[0] for row in rows}

    return await db.write(read)


@pytest.mark.parametrize(
    "query",
    ["", " ", "a", "  b  ", "?!", "--- ...", "x" * (MAX_QUERY + 1)],
)
def test_queries_the_contract_refuses(query: str) -> None:
    with pytest.raises(Invalid):
        words_of(query)


def test_words_are_letters_and_digits_of_any_script() -> None:
    assert words_of("Öl, 2 Stück!") == ("Öl", "2", "Stück")
    assert words_of("привет_мир") == ("привет", "мир")
    # A combining accent stays in its word.
    assert words_of("cafe\u0301 x") == ("café", "x")
    assert search.sqlite_match(("a", "b")) == '"a" "b"*'


# --- the index equals the visible text --------------------------------------------------

VOCABULARY = ["café", "Cafe", "über", "UBER", "naïve", "hello", "help", "x1", "día", "dia"]
SEPARATORS = [" ", ", ", "-", "! ", "'", "\n"]


def _model_tokens(body: str) -> set[str]:
    """What either engine's index should hold for `body`: accents and case folded, split
    on everything but letters and digits."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", body) if not unicodedata.combining(c))
    return {t for t in re.split(r"[\W_]+", bare.lower()) if t}


_texts = st.lists(
    st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), min_size=1, max_size=5
).map(lambda parts: "".join(w + s for w, s in parts).strip())
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), _texts),
        st.tuples(st.just("delete"), st.integers(0, 20)),
        st.tuples(st.just("edit"), st.integers(0, 20), _texts),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=_ops)
def test_the_index_holds_exactly_the_visible_text(migrated_url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    asyncio.run(_check_index(migrated_url, ops))


_example = iter(range(1_000_000))


async def _check_index(url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    db = Database(url)
    try:
        # Each example in a chat of its own: users no other example shares.
        n = next(_example)
        key = ChatKey("p", 100_000 + n, 200_000 + n)
        visible: dict[str, str] = {}
        order: list[str] = []
        for op in ops:
            if op[0] == "send":
                [m] = await _send(db, key, [op[1]])
                visible[m.id] = op[1]
                order.append(m.id)
            elif op[0] == "delete" and order:
                target = order[op[1] % len(order)]
                await _delete(db, target)
                visible.pop(target, None)
            elif op[0] == "edit" and order:
                target = order[op[1] % len(order)]
                if target in visible:

                    async def edit(
                        conn: AsyncConnection, target: str = target, body: str = op[2]
                    ) -> None:
                        await db_conn_execute(
                            conn, "UPDATE messages SET text = :t WHERE id = :id", t=body, id=target
                        )

                    await db.write(edit)
                    visible[target] = op[2]
        service = SearchService(db, BUDGET)
        for word in {w.lower() for w in VOCABULARY}:
            page = await service.search(_vendor(key), words_of(word), None, None, 50)
            folded = next(iter(_model_tokens(word)))
            expected = {
                i
                for i, body in visible.items()
                if any(t.startswith(folded) for t in _model_tokens(body))
            }
            assert {m.id for m in page.messages} == expected, word
        if db.is_sqlite:

            async def check(conn: AsyncConnection) -> None:
                # FTS5's own check of the index against the text it indexes.
                await db_conn_execute(conn, _INTEGRITY_CHECK)

            await db.write(check)
    finally:
        await db.close()


@pytest.fixture
def migrated_url(empty_database_url: str) -> str:
    upgrade(empty_database_url)
    return empty_database_url
