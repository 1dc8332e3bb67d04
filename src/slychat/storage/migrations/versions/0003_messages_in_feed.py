"""Messages are their own change-feed entries: participants and positions in the row.

A `message` change used to be two extra `feed` rows per message (one per participant),
which cost more to write than the message itself. The message row now carries the
participants, and two indexes serve each participant's feed by position.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("customer_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("vendor_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE messages SET "
        "customer_id = (SELECT customer_id FROM chats WHERE chats.id = messages.chat_id), "
        "vendor_id = (SELECT vendor_id FROM chats WHERE chats.id = messages.chat_id)"
    )
    op.execute("DELETE FROM feed WHERE kind = 'message'")
    op.create_index(
        op.f("ix_messages_customer_id_customer_pos"), "messages", ["customer_id", "customer_pos"]
    )
    op.create_index(
        op.f("ix_messages_vendor_id_vendor_pos"), "messages", ["vendor_id", "vendor_pos"]
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, message_id, at) "
        "SELECT 'CUSTOMER', customer_id, customer_pos, 'message', chat_id, id, created_at "
        "FROM messages WHERE customer_pos IS NOT NULL"
    )
    op.execute(
        "INSERT INTO feed (user_type, user_id, pos, kind, chat_id, message_id, at) "
        "SELECT 'VENDOR', vendor_id, vendor_pos, 'message', chat_id, id, created_at "
        "FROM messages WHERE vendor_pos IS NOT NULL"
    )
    op.drop_index(op.f("ix_messages_vendor_id_vendor_pos"), table_name="messages")
    op.drop_index(op.f("ix_messages_customer_id_customer_pos"), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("vendor_id")
        batch.drop_column("customer_id")
