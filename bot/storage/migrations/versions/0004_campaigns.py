"""Coordinator announcements ("campaigns"); their messages are deliveries of kind "announcement".

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_kind", sa.String(length=12), nullable=True),
        sa.Column("media_file_id", sa.String(length=200), nullable=True),
        sa.Column("media_name", sa.String(length=200), nullable=True),
        sa.Column("audience", sa.String(length=16), server_default="me", nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opted_out", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "audience IN ('all', 'members', 'coordinators', 'topic', 'me')",
            name=op.f("ck_campaigns_audience"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'awaiting_approval', 'scheduled', 'sending', 'done', 'cancelled')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.CheckConstraint("media_kind IN ('photo', 'document')", name=op.f("ck_campaigns_media_kind")),
        sa.CheckConstraint("(audience = 'topic') = (topic IS NOT NULL)", name=op.f("ck_campaigns_topic")),
        sa.CheckConstraint("(media_kind IS NULL) = (media_file_id IS NULL)", name=op.f("ck_campaigns_media")),
        sa.CheckConstraint("recipients >= 0 AND opted_out >= 0", name=op.f("ck_campaigns_counts")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_campaigns_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_status_send_at"), "campaigns", ["status", "send_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_campaigns_status_send_at"), table_name="campaigns")
    op.drop_table("campaigns")
