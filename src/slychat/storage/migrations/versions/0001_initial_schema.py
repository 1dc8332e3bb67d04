"""Initial schema: chats, messages (with seq and tombstones), last_seen.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("product_id", sa.String(length=255), nullable=False),
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_image_url", sa.Text(), nullable=True),
        sa.Column("product_price", sa.String(length=64), nullable=True),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("store_logo_url", sa.Text(), nullable=True),
        sa.Column("customer_profile_pic", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("store_name", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_message_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
        sa.UniqueConstraint(
            "product_id",
            "vendor_id",
            "customer_id",
            name=op.f("uq_chats_product_id_vendor_id_customer_id"),
        ),
    )
    op.create_index(
        op.f("ix_chats_customer_id_last_message_at_id"),
        "chats",
        ["customer_id", "last_message_at", "id"],
    )
    op.create_index(
        op.f("ix_chats_vendor_id_last_message_at_id"),
        "chats",
        ["vendor_id", "last_message_at", "id"],
    )

    op.create_table(
        "last_seen",
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_type", "user_id", name=op.f("pk_last_seen")),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("chat_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_type", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("client_message_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("recipient_online", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("read", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=True),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_messages_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "chat_id",
            "sender_type",
            "client_message_id",
            name=op.f("uq_messages_chat_id_sender_type_client_message_id"),
        ),
        sa.UniqueConstraint("chat_id", "seq", name=op.f("uq_messages_chat_id_seq")),
    )
    unread = sa.column("read") == sa.false()
    undelivered = sa.column("delivered_at").is_(None)
    op.create_index(
        "ix_messages_undelivered",
        "messages",
        ["chat_id"],
        postgresql_where=undelivered,
        sqlite_where=undelivered,
    )
    op.create_index(
        "ix_messages_unread",
        "messages",
        ["chat_id", "sender_type"],
        postgresql_where=unread,
        sqlite_where=unread,
    )


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("last_seen")
    op.drop_table("chats")
