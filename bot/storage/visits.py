"""What every update needs of its user, in one statement: `VisitRepository.snapshot`.

A private message used to cost three read transactions before anything else happened (the flow in
progress, the user's language, the coordinators' answers waiting for them); this reads them all at once,
as a SELECT of scalar subqueries without FROM (the same on SQLite and PostgreSQL). Each part keeps the
conditions of the repository it comes from (`latest_flow`, `undelivered_conditions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select

from bot.storage.base import Repository, utc_value
from bot.storage.conversations import latest_flow
from bot.storage.coordination import undelivered_conditions
from bot.storage.schema import conversations, users
from bot.users.records import Role, Snapshot


class VisitRepository(Repository):
    """Reads only: the user's row, their flow in progress and their waiting answers."""

    async def snapshot(self, user_id: int, chat_id: int | None, *, now: datetime) -> Snapshot:
        """The stored language and role of `user_id` (None, None for a user never seen), the unexpired flow
        changed last in `chat_id` (none without a chat), and whether answers wait for them: one statement,
        one read transaction."""
        now = utc_value("now", now)
        user = select(users.c.language, users.c.role).where(users.c.id == user_id)
        columns: list[Any] = [
            user.with_only_columns(users.c.language).scalar_subquery().label("language"),
            user.with_only_columns(users.c.role).scalar_subquery().label("role"),
            exists().where(*undelivered_conditions(user_id)).label("waiting"),
        ]
        if chat_id is not None:
            flow = latest_flow(chat_id, user_id, now)
            columns += [
                flow.with_only_columns(conversations.c.flow).scalar_subquery().label("flow"),
                flow.with_only_columns(conversations.c.state).scalar_subquery().label("state"),
            ]
        async with self._tx(write=False) as conn:
            row = (await conn.execute(select(*columns))).mappings().one()
        flow_name, state = row.get("flow"), row.get("state")
        return Snapshot(
            language=row["language"],
            role=None if row["role"] is None else Role(row["role"]),
            flow=flow_name if isinstance(state, dict) else None,
            state=dict(state) if isinstance(state, dict) else None,
            answers_waiting=bool(row["waiting"]),
        )
