"""SQLite: new messages are indexed for search by the send batch's own statement, not by
a trigger.

FTS5 fed by the AFTER INSERT trigger of migration 0009 cost about 35 µs of the writer's
time per message; one `INSERT INTO messages_search ... SELECT` over the batch's rows, in
the same transaction (storage/send_sqlite.py, the only code that inserts messages), costs
about 15. The triggers for DELETE and UPDATE OF text stay: edits, deletes and erasures
touch a row at a time. PostgreSQL's generated column is unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER messages_search_insert")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
            "INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text); END"
        )
