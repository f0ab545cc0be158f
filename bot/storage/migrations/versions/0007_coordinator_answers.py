"""Questions the coordinators answer: each kept question's status (pending, answered, dismissed), who
handled it and when, the answer written, whether it helped; the reason of a 👎; a pseudonymous handle per
asker.

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("handled_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("handled_by_name", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("answer", sa.Text(), nullable=True))
        batch.add_column(sa.Column("covered_by", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("helped", sa.SmallInteger(), nullable=True))
        batch.create_index(batch.f("ix_questions_status"), ["status"])
    # The kept questions so far: unanswered ones wait for a coordinator.
    op.execute("UPDATE questions SET status = 'pending' WHERE answered = false")
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("handle", sa.String(length=12), nullable=True))
        batch.create_unique_constraint(batch.f("uq_users_handle"), ["handle"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(batch.f("uq_users_handle"), type_="unique")
        batch.drop_column("handle")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("questions") as batch:
        batch.drop_index(batch.f("ix_questions_status"))
        for column in ("helped", "covered_by", "answer", "handled_by_name", "handled_by", "handled_at"):
            batch.drop_column(column)
        batch.drop_column("status")
