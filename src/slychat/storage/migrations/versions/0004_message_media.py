"""Media files attached to messages, and each message's count of them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("media_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "message_media",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("message_id", sa.String(24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(64), nullable=False),
        sa.Column("thumbnail_key", sa.String(64), nullable=True),
        sa.Column("mime_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_media_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_message_media"),
        sa.UniqueConstraint("file_key", name="uq_message_media_file_key"),
        sa.UniqueConstraint("thumbnail_key", name="uq_message_media_thumbnail_key"),
        sa.UniqueConstraint("message_id", "position", name="uq_message_media_message_id_position"),
    )


def downgrade() -> None:
    op.drop_table("message_media")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("media_count")
