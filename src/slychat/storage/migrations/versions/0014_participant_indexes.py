"""A user's total unread and offline messages by the message's own participant column.

Both used to join a user's chats to their messages, one probe per chat (or, on
PostgreSQL, a scan of every unread or undelivered message): a cost growing with the
user's chats and with the whole table. One partial index per side, over the live unread
and the live undelivered messages, makes each a range of the user's own rows. The
per-chat undelivered index they replace served nothing else.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_SIDES = ("customer", "vendor")


def upgrade() -> None:
    live = sa.column("deleted_at").is_(None)
    unread = sa.and_(sa.column("read") == sa.false(), live)
    undelivered = sa.and_(sa.column("delivered_at").is_(None), live)
    for side in _SIDES:
        op.create_index(
            f"ix_messages_unread_{side}",
            "messages",
            [f"{side}_id", "sender_type"],
            postgresql_where=unread,
            sqlite_where=unread,
        )
        op.create_index(
            f"ix_messages_undelivered_{side}",
            "messages",
            [f"{side}_id", "sender_type", "chat_id", "seq"],
            postgresql_where=undelivered,
            sqlite_where=undelivered,
        )
    op.drop_index("ix_messages_undelivered", table_name="messages")


def downgrade() -> None:
    undelivered = sa.column("delivered_at").is_(None)
    op.create_index(
        "ix_messages_undelivered",
        "messages",
        ["chat_id"],
        postgresql_where=undelivered,
        sqlite_where=undelivered,
    )
    for side in _SIDES:
        op.drop_index(f"ix_messages_undelivered_{side}", table_name="messages")
        op.drop_index(f"ix_messages_unread_{side}", table_name="messages")
