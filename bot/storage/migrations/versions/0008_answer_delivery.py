"""When a coordinator's answer reached its asker: NULL while it waits (the asker never opened a private chat
with the bot), so that it is sent when they next write to the bot in private.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    # The answers so far count as delivered (none is sent twice).
    op.execute("UPDATE questions SET delivered_at = handled_at WHERE status = 'answered'")


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("delivered_at")
