"""Full-text search over messages (searchMessages): an index each engine keeps by itself.

SQLite: an FTS5 table over `messages.text` (external content, keyed by rowid), tokenizer
`unicode61 remove_diacritics 2`, with prefix indexes for the short prefixes a query's
last word often is; triggers keep it in step with every INSERT, DELETE and UPDATE OF
text, inside the writing transaction (a send, an edit, and a delete or an erasure, which
erase the text). Existing messages are indexed here.

PostgreSQL: `slychat_search_text(text)` folds accents (the `unaccent` extension, trusted:
a database owner may create it) and case (ICU's rules when the server has ICU, so the
result does not depend on the database's locale) and turns everything but letters and
digits into spaces, the way FTS5's tokenizer splits words; the generated column
`messages.search_words` holds its `to_tsvector('simple', ...)`, under a GIN index. A
generated column is computed by every write of the row, so sends, edits, deletes and
erasures keep it exact without triggers; adding it computes it for existing messages. A
search for a common word walks the caller's feed index newest first, reading the stored
words, instead of collecting every match.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SQLITE = [
    "CREATE VIRTUAL TABLE messages_search USING fts5(text, content='messages', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    # Every row is indexed as it is stored: a tombstone's text is erased (NULL), which
    # indexes nothing, so the index is always exactly the text `messages` holds (FTS5's
    # integrity-check compares the two). External content: FTS5 removes a row's terms
    # given the exact text it indexed, the old row's.
    "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_search (messages_search, rowid, text) "
    "VALUES ('delete', old.rowid, old.text); END",
    "CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_search (messages_search, rowid, text) "
    "VALUES ('delete', old.rowid, old.text); "
    "INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text); END",
    "INSERT INTO messages_search (messages_search) VALUES ('rebuild')",
]

_FOLD = (
    "CREATE FUNCTION slychat_search_text(body text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "RETURN regexp_replace(lower({schema}.unaccent('{schema}.unaccent'::regdictionary, body)"
    "{collate}), '[^[:alnum:]]+', ' ', 'g')"
)
# The folded words of each message, stored in its row (a tombstone's erased text holds
# none): PostgreSQL computes a generated column in every INSERT and UPDATE of the row, so
# sends, edits, deletes and erasures keep it exact with no trigger, and adding it
# computes it for the existing messages. Stored rather than an expression index's: a
# search walking messages newest first (a common word) then reads it instead of folding
# every row again, and ANALYZE keeps its statistics (how common each word is), from
# which the planner picks between that walk and the GIN index.
_POSTGRES_COLUMN = (
    "ALTER TABLE messages ADD COLUMN search_words tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, slychat_search_text(text))) STORED"
)
_POSTGRES_INDEX = "CREATE INDEX ix_messages_search ON messages USING gin (search_words)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
        return
    available = bind.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")
    ).first()
    if available is None:
        raise RuntimeError(
            "message search needs PostgreSQL's unaccent extension (in the postgresql-contrib "
            "package of most distributions, and in the official images): install it, then "
            "run `slychat migrate` again"
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    schema = bind.execute(
        text(
            "SELECT quote_ident(n.nspname) FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
    ).scalar_one()
    icu = bind.execute(text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).first()
    op.execute(_FOLD.format(schema=schema, collate=' COLLATE "und-x-icu"' if icu else ""))
    op.execute(_POSTGRES_COLUMN)
    op.execute(_POSTGRES_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER messages_search_{trigger}")
        op.execute("DROP TABLE messages_search")
        return
    op.execute("DROP INDEX ix_messages_search")
    op.execute("ALTER TABLE messages DROP COLUMN search_words")
    op.execute("DROP FUNCTION slychat_search_text(text)")
