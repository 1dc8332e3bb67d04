"""Per-user change feeds for syncMessages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("customer_pos", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("vendor_pos", sa.BigInteger(), nullable=True))
    op.create_table(
        "feed_heads",
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("pos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_type", "user_id", name=op.f("pk_feed_heads")),
    )
    op.create_table(
        "feed",
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("pos", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=24), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=True),
        sa.Column("message_ids", sa.Text(), nullable=True),
        sa.Column("actor_type", sa.String(length=8), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_type", "user_id", "pos", name=op.f("pk_feed")),
    )
    op.create_index(op.f("ix_feed_at"), "feed", ["at"])


def downgrade() -> None:
    op.drop_table("feed")
    op.drop_table("feed_heads")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("vendor_pos")
        batch.drop_column("customer_pos")
