"""Conversation features: edits (with every earlier version kept), reactions, replies,
and each user's mute and archive settings of a chat; feed changes carry what they said.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("edited_at", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("reply_to_id", sa.String(length=24), nullable=True))
    op.add_column(
        "messages",
        sa.Column("reaction_count", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("feed", sa.Column("data", sa.Text(), nullable=True))
    op.create_table(
        "message_versions",
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("written_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_versions_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "version", name="pk_message_versions"),
    )
    op.create_table(
        "message_reactions",
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(length=64), nullable=False),
        sa.Column("reacted_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_reactions_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_type", "user_id", name="pk_message_reactions"),
    )
    op.create_table(
        "chat_settings",
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.String(length=24), nullable=False),
        sa.Column("muted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_chat_settings_chat_id_chats", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_type", "user_id", "chat_id", name="pk_chat_settings"),
    )


def downgrade() -> None:
    op.drop_table("chat_settings")
    op.drop_table("message_reactions")
    op.drop_table("message_versions")
    with op.batch_alter_table("feed") as feed:
        feed.drop_column("data")
    with op.batch_alter_table("messages") as messages:
        messages.drop_column("reaction_count")
        messages.drop_column("reply_to_id")
        messages.drop_column("edited_at")
