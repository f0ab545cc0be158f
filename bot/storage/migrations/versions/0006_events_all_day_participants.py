"""Events: all-day events are stored as such (shown and exported without hours); campaigns may go to the
people who answered yes or maybe to an event (audience "event", the event id in `topic`).

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_AUDIENCES = ("all", "members", "coordinators", "topic", "me")


def _audience_checks(audiences: tuple[str, ...], with_topic: tuple[str, ...]) -> None:
    # SQLite copies `campaigns` to change its checks: no table refers to it, nothing cascades.
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_audience"), type_="check")
        batch.drop_constraint(op.f("ck_campaigns_topic"), type_="check")
        listed = ", ".join(f"'{a}'" for a in audiences)
        batch.create_check_constraint("audience", f"audience IN ({listed})")
        topical = ", ".join(f"'{a}'" for a in with_topic)
        batch.create_check_constraint("topic", f"(audience IN ({topical})) = (topic IS NOT NULL)")


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite, copying `events` would drop the original table and
    # with it (ON DELETE CASCADE) every reminder and RSVP.
    op.add_column("events", sa.Column("all_day", sa.Boolean(), server_default=sa.false(), nullable=False))
    _audience_checks((*_AUDIENCES, "event"), ("topic", "event"))


def downgrade() -> None:
    op.execute("DELETE FROM campaigns WHERE audience = 'event'")  # their deliveries stay, as sent or not
    _audience_checks(_AUDIENCES, ("topic",))
    op.drop_column("events", "all_day")  # SQLite 3.35+ drops a column in place
