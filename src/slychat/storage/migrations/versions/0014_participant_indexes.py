"""A user's total unread and offline messages by the message's own participant column.

Both used to join a user's chats to their messages, one probe per chat (or, on
PostgreSQL, a scan of every unread or undelivered message): a cost growing with the
user's chats and with the whole table. One partial index per recipient side, over the
live unread and the live undelivered messages the other side sent (each message in one
of them at most), makes each a range of the user's own rows. The per-chat undelivered
index they replace served nothing else.

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

# (recipient side, the sender side whose messages its indexes hold)
_SIDES = (("customer", "VENDOR"), ("vendor", "CUSTOMER"))


def upgrade() -> None:
    live = sa.column("deleted_at").is_(None)
    for recipient, sender in _SIDES:
        to_them = sa.column("sender_type") == sender
        unread = sa.and_(sa.column("read") == sa.false(), live, to_them)
        undelivered = sa.and_(sa.column("delivered_at").is_(None), live, to_them)
        op.create_index(
            f"ix_messages_unread_{recipient}",
            "messages",
            [f"{recipient}_id"],
            postgresql_where=unread,
            sqlite_where=unread,
        )
        op.create_index(
            f"ix_messages_undelivered_{recipient}",
            "messages",
            [f"{recipient}_id", "chat_id", "seq"],
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
    for recipient, _ in _SIDES:
        op.drop_index(f"ix_messages_undelivered_{recipient}", table_name="messages")
        op.drop_index(f"ix_messages_unread_{recipient}", table_name="messages")
