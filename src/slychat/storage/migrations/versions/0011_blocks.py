"""Blocks: one user blocking a counterpart, one row per pair covering all their chats;
kept (with `unblocked_at`) after an unblock so that every node's poll hears of it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("blocker_type", sa.String(length=8), nullable=False),
        sa.Column("blocker_id", sa.BigInteger(), nullable=False),
        sa.Column("blocked_type", sa.String(length=8), nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), nullable=False),
        sa.Column("blocked_at", sa.BigInteger(), nullable=False),
        sa.Column("unblocked_at", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "blocker_type", "blocker_id", "blocked_type", "blocked_id", name="pk_blocks"
        ),
    )
    op.create_index("ix_blocks_changed_at", "blocks", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_blocks_changed_at", table_name="blocks")
    op.drop_table("blocks")
