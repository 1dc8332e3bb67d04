"""Reports, moderators' decisions and suspensions (issue 23; the automatic reports of
issue 22): `reports` with the snapshot frozen at creation and one open report per
reporter and target (a partial unique index), `report_media` (the files a snapshot
shows, kept as evidence), `report_decisions`, `suspensions` (at most one unlifted per
user).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("automatic", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reporter_type", sa.String(length=8), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("target_kind", sa.String(length=8), nullable=False),
        sa.Column("target_user_type", sa.String(length=8), nullable=False),
        sa.Column("target_user_id", sa.BigInteger(), nullable=False),
        sa.Column("target_message_id", sa.String(length=24), nullable=True),
        sa.Column("target_chat_id", sa.String(length=24), nullable=True),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_index("ix_reports_status_id", "reports", ["status", "id"])
    op.create_index(
        "ix_reports_target_user_type_target_user_id_status",
        "reports",
        ["target_user_type", "target_user_id", "status"],
    )
    op.create_index(
        "uq_reports_open_target",
        "reports",
        ["reporter_type", "reporter_id", "target_key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "report_media",
        sa.Column("report_id", sa.String(length=24), nullable=False),
        sa.Column("media_id", sa.String(length=24), nullable=False),
        sa.Column("message_id", sa.String(length=24), nullable=False),
        sa.Column("file_key", sa.String(length=64), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=64), nullable=True),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name="fk_report_media_report_id_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "media_id", name="pk_report_media"),
    )
    op.create_index("ix_report_media_file_key", "report_media", ["file_key"])
    op.create_index("ix_report_media_thumbnail_key", "report_media", ["thumbnail_key"])
    op.create_index("ix_report_media_message_id", "report_media", ["message_id"])
    op.create_table(
        "report_decisions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("report_id", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("until", sa.BigInteger(), nullable=True),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name="fk_report_decisions_report_id_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_decisions"),
    )
    op.create_index(
        "ix_report_decisions_report_id_decided_at", "report_decisions", ["report_id", "decided_at"]
    )
    op.create_table(
        "suspensions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=True),
        sa.Column("suspended_at", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=True),
        sa.Column("report_id", sa.String(length=24), nullable=True),
        sa.Column("lifted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_suspensions"),
    )
    op.create_index(
        "uq_suspensions_unlifted",
        "suspensions",
        ["user_type", "user_id"],
        unique=True,
        postgresql_where=sa.text("lifted_at IS NULL"),
        sqlite_where=sa.text("lifted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("suspensions")
    op.drop_table("report_decisions")
    op.drop_table("report_media")
    op.drop_table("reports")
