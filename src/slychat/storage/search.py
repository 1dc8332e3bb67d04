"""Full-text search over the messages a user can see: one query per engine, each over a
real full-text index that the database keeps in step with `messages` by itself.

- SQLite: the FTS5 table `messages_search` (tokenizer `unicode61 remove_diacritics 2`),
  external content keyed by the message's rowid. A send batch indexes its new rows by
  `index_new_messages` in its transaction (one statement for the batch: migration 0015
  dropped the per-row insert trigger, which cost a third of the writer's time per
  message); triggers on DELETE and UPDATE OF text keep it in step with an edit, a delete
  and an erasure (both erase the text), in their own transaction.
- PostgreSQL: the generated column `messages.search_words`,
  `to_tsvector('simple', slychat_search_text(text))`, under the GIN index
  `ix_messages_search`; `slychat_search_text` folds accents (`unaccent`) and case, and
  turns everything but letters and digits into spaces. A generated column is computed by
  every write of its row, so it cannot drift.

Both split text into words the same way (runs of letters and digits), so a query finds
the same messages on either engine. The user's words never reach either query language
as syntax: the service hands over words made of letters and digits only, each quoted
here as a string of its engine's syntax.

The index covers what is stored; it is scoped to the caller by the query itself (a join
on the chats the caller takes part in), never by filtering results afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import MutableMapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.identity import Role, User
from slychat.domain.models import Message
from slychat.storage.repository import with_media
from slychat.storage.rows import MESSAGE_COLUMNS, message_from_row

# The schema objects the search migration makes beside the declared tables (tables.py
# cannot declare a virtual table, triggers or an expression index): the migrations'
# comparison with tables.py leaves them out (`include_name`).
SQLITE_TABLE = "messages_search"
# FTS5's own tables behind the virtual one.
_SQLITE_SHADOWS = tuple(f"{SQLITE_TABLE}_{s}" for s in ("data", "idx", "docsize", "config"))
POSTGRES_INDEX = "ix_messages_search"
# The generated column of the folded words (not in tables.py: PostgreSQL's only).
POSTGRES_COLUMN = "search_words"
SEARCH_OBJECTS = frozenset({SQLITE_TABLE, *_SQLITE_SHADOWS, POSTGRES_INDEX, POSTGRES_COLUMN})


# Ids per indexing statement: far below SQLite's 32,766 parameters, whatever the caller's
# batch.
_IDS_PER_STATEMENT = 1_000


def index_new_messages(conn: sqlite3.Connection, message_ids: Sequence[str]) -> None:
    """SQLite: add just-inserted messages (by id) to the search index, in the caller's
    transaction. A message without text indexes nothing."""
    for i in range(0, len(message_ids), _IDS_PER_STATEMENT):
        ids = message_ids[i : i + _IDS_PER_STATEMENT]
        conn.execute(
            f"INSERT INTO {SQLITE_TABLE} (rowid, text) "
            f"SELECT rowid, text FROM messages WHERE id IN ({', '.join('?' * len(ids))})",
            ids,
        )


def include_name(name: str | None, type_: Any, _parents: MutableMapping[Any, str | None]) -> bool:
    """Alembic's `include_name` hook: everything but the search index's own objects."""
    return name not in SEARCH_OBJECTS


def _participant(role: Role) -> str:
    return "c.vendor_id" if role is Role.VENDOR else "c.customer_id"


def _feed(role: Role) -> tuple[str, str]:
    """The message's copy of the viewer's side and its place in the viewer's feed."""
    return (
        ("m.vendor_id", "vendor_pos") if role is Role.VENDOR else ("m.customer_id", "customer_pos")
    )


def sqlite_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every word as a quoted string, the last one a prefix.
    Quoting (`"` doubled) makes each word a plain string whatever it holds."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _pg_tsquery(count: int) -> str:
    """PostgreSQL: each word (`:w0`...) folded by the index's own function, quoted as a
    tsquery literal (quote_literal: a folded word holds letters, digits and spaces only),
    ANDed, the last one a prefix (`:*`). Immutable functions of the parameters: the
    planner folds them into the constant tsquery of each execution, so it knows how
    common the words are (the GIN index for rare words, newest-first order for common)."""
    # The space keeps a literal from being empty (a syntax error): a word whose folding
    # leaves no letter or digit is then an operand without lexemes, which is dropped.
    terms = " || ' & ' || ".join(
        f"quote_literal(slychat_search_text(:w{i}) || ' ')" for i in range(count)
    )
    return f"to_tsquery('simple'::regconfig, {terms} || ':*')"


# Custom plans, always: a generic plan of a prepared statement would not know the words.
PG_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"


def search_statement(
    dialect: str,
    viewer: User,
    words: Sequence[str],
    chat_id: str | None,
    before: str | None,
    limit: int,
) -> Any:
    """The statement `search` runs (the benchmark EXPLAINs the very same one): live
    messages of the chats `viewer` takes part in matching every word, newest first, after
    the message `before` (the last one of the previous page).

    Newest first is the order the messages were stored in, which each engine walks
    without sorting every match of a common word. SQLite: rowid order (one writer; FTS5
    walks its matches by rowid, newest first, and stops at `limit`). PostgreSQL: the
    viewer's feed position, the order their messages were committed in, whose index
    (side, position) the planner walks backwards for a common word, reading the stored
    words of each row, or skips for the GIN index when the words are rare."""
    params: dict[str, Any] = {"viewer": viewer.id, "limit": limit}
    where = [f"{_participant(viewer.role)} = :viewer", "m.deleted_at IS NULL"]
    if dialect == "sqlite":
        source = (
            f"{SQLITE_TABLE} JOIN messages m ON m.rowid = {SQLITE_TABLE}.rowid "
            "JOIN chats c ON c.id = m.chat_id"
        )
        where.insert(0, f"{SQLITE_TABLE} MATCH :match")
        params["match"] = sqlite_match(words)
        order = f"{SQLITE_TABLE}.rowid DESC"
        anchor = f"{SQLITE_TABLE}.rowid < (SELECT rowid FROM messages WHERE id = :before_id)"
    else:
        side, pos = _feed(viewer.role)
        source = "messages m JOIN chats c ON c.id = m.chat_id"
        # The message's own copy of the viewer's side (the chat's, which never changes)
        # leads the planner to the feed index; the join on chats is what scopes.
        where += [f"{side} = :viewer", f"m.{POSTGRES_COLUMN} @@ {_pg_tsquery(len(words))}"]
        # Messages stored before the change feed (revision 0002) have no position: they
        # could not be paged exactly, so they are not searched here.
        where.append(f"m.{pos} IS NOT NULL")
        params |= {f"w{i}": w for i, w in enumerate(words)}
        order = f"m.{pos} DESC"
        anchor = f"m.{pos} < (SELECT {pos} FROM messages WHERE id = :before_id)"
    if before is not None:
        where.append(anchor)
        params["before_id"] = before
    if chat_id is not None:
        where.append("m.chat_id = :chat_id")
        params["chat_id"] = chat_id
    sql = (
        f"SELECT {MESSAGE_COLUMNS} FROM {source} WHERE {' AND '.join(where)} "
        f"ORDER BY {order} LIMIT :limit"
    )
    return text(sql).bindparams(**params)


async def search(
    conn: AsyncConnection,
    viewer: User,
    words: Sequence[str],
    chat_id: str | None,
    before: str | None,
    limit: int,
) -> list[Message]:
    """Up to `limit` matching messages, newest first, with their media."""
    statement = search_statement(conn.dialect.name, viewer, words, chat_id, before, limit)
    if conn.dialect.name == "postgresql":
        await conn.execute(text(PG_CUSTOM_PLANS))
    found = [message_from_row(row) for row in await conn.execute(statement)]
    return await with_media(conn, found)
