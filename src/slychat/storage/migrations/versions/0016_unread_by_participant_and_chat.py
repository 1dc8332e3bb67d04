"""Unread messages per chat by the reader's own partial index, and one index fewer.

`ix_messages_unread` (`chat_id, sender_type WHERE read = false`) served markAsRead and the
unread count of each listed chat; every message sent was written into it, and on SQLite
that entry (two text columns) was about a sixth of the writer's time per message. The
per-recipient unread indexes of migration 0014 now hold the chat after the reader's id,
`(customer_id, chat_id)` and `(vendor_id, chat_id)`, so that both are a range of the
reader's rows in that chat, and the total unread still a range of the reader's rows.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# (recipient side, the sender side whose messages its index holds)
_SIDES = (("customer", "VENDOR"), ("vendor", "CUSTOMER"))


def _unread_to(sender: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.column("read") == sa.false(),
        sa.column("deleted_at").is_(None),
        sa.column("sender_type") == sender,
    )


def _per_recipient(columns: list[str]) -> None:
    for recipient, sender in _SIDES:
        name = f"ix_messages_unread_{recipient}"
        op.drop_index(name, table_name="messages")
        where = _unread_to(sender)
        cols = [f"{recipient}_id", *columns]
        op.create_index(name, "messages", cols, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _per_recipient(["chat_id"])
    op.drop_index("ix_messages_unread", table_name="messages")


def downgrade() -> None:
    unread = sa.column("read") == sa.false()
    op.create_index(
        "ix_messages_unread",
        "messages",
        ["chat_id", "sender_type"],
        postgresql_where=unread,
        sqlite_where=unread,
    )
    _per_recipient([])
