"""Contact-detail policy: the text a sender wrote, kept for moderators when contact
details were masked in what everyone sees (`messages.original_text`, null otherwise), and
the platform's per-chat override of SLYCHAT_CONTACT_POLICY (`chats.contact_policy`, null:
the setting's).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("original_text", sa.Text(), nullable=True))
    op.add_column("chats", sa.Column("contact_policy", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): rebuilding `messages` in batch
    # mode would drop the search triggers of 0009, which name only `text`.
    op.drop_column("chats", "contact_policy")
    op.drop_column("messages", "original_text")
