"""Self-diagnosis: the questionnaire in progress (diagnostic_sessions) and the results (diagnostic_results).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "diagnostic_sessions",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_diagnostic_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_diagnostic_sessions")),
    )
    op.create_table(
        "diagnostic_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("territory", sa.String(length=32), nullable=True),
        sa.Column("structure", sa.String(length=32), nullable=True),
        sa.Column("questionnaire_version", sa.String(length=16), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_diagnostic_results_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostic_results")),
    )
    op.create_index(op.f("ix_diagnostic_results_user_id"), "diagnostic_results", ["user_id"])
    op.create_index(op.f("ix_diagnostic_results_created_at"), "diagnostic_results", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_diagnostic_results_created_at"), table_name="diagnostic_results")
    op.drop_index(op.f("ix_diagnostic_results_user_id"), table_name="diagnostic_results")
    op.drop_table("diagnostic_results")
    op.drop_table("diagnostic_sessions")
