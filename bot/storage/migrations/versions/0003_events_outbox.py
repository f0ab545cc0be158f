"""Events, per-user event settings (reminders, RSVPs, preferences) and the delivery outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("audience", sa.String(length=16), server_default="all", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("audience IN ('all', 'members')", name=op.f("ck_events_audience")),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f("ck_events_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("uid", name=op.f("uq_events_uid")),
    )
    op.create_index(op.f("ix_events_status_starts_at"), "events", ["status", "starts_at"])
    op.create_table(
        "event_subscriptions",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_event_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_subscriptions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event_id", name=op.f("pk_event_subscriptions")),
    )
    op.create_index(op.f("ix_event_subscriptions_event_id"), "event_subscriptions", ["event_id"])
    op.create_table(
        "rsvps",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("answer IN ('yes', 'maybe', 'no')", name=op.f("ck_rsvps_answer")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rsvps_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_rsvps_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "event_id", name=op.f("pk_rsvps")),
    )
    op.create_index(op.f("ix_rsvps_event_id"), "rsvps", ["event_id"])
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("remind_all", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("new_event_notices", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("announcements", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("topics", sa.Text(), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_preferences")),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ref_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'blocked', 'failed', 'skipped')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "kind", "ref_id", "chat_id", "key", name=op.f("uq_deliveries_kind_ref_id_chat_id_key")
        ),
    )
    op.create_index(op.f("ix_deliveries_status_not_before"), "deliveries", ["status", "not_before"])
    op.create_index(op.f("ix_deliveries_kind_ref_id_status"), "deliveries", ["kind", "ref_id", "status"])
    op.create_index(op.f("ix_deliveries_chat_id"), "deliveries", ["chat_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_chat_id"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_kind_ref_id_status"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_status_not_before"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("preferences")
    op.drop_index(op.f("ix_rsvps_event_id"), table_name="rsvps")
    op.drop_table("rsvps")
    op.drop_index(op.f("ix_event_subscriptions_event_id"), table_name="event_subscriptions")
    op.drop_table("event_subscriptions")
    op.drop_index(op.f("ix_events_status_starts_at"), table_name="events")
    op.drop_table("events")
