"""Each user's preferences: reminders, new-event notices, announcements, topics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)

from bot.storage.base import (
    Repository,
    check_length,
    dialect_insert,
    ensure_user,
    utc,
)
from bot.storage.schema import (
    preferences,
)
from bot.users.records import Preferences

PREFERENCE_FLAGS = frozenset({"remind_all", "new_event_notices", "announcements"})
MAX_TOPIC = 64


class PreferenceRepository(Repository):
    """What each user asked to receive."""

    async def get_preferences(self, user_id: int) -> Preferences:
        """The user's preferences; the defaults for a user who never changed any (or is unknown)."""
        stmt = select(preferences).where(preferences.c.user_id == user_id)
        async with self._tx(write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return Preferences()
        return Preferences(
            remind_all=bool(row["remind_all"]),
            new_event_notices=bool(row["new_event_notices"]),
            announcements=bool(row["announcements"]),
            topics=tuple(topic_list(row["topics"])),
        )

    async def set_preference(
        self, user_id: int, name: str, value: bool, *, now: datetime | None = None
    ) -> None:
        """Set "remind_all", "new_event_notices" or "announcements" (ValueError for another name).

        An unknown `user_id` is created as a newcomer.
        """
        if name not in PREFERENCE_FLAGS:
            raise ValueError(f"preference: one of {sorted(PREFERENCE_FLAGS)}, got {name!r}")
        await self._set_preferences(user_id, utc(now), {name: bool(value)})

    async def set_topics(self, user_id: int, topics: Iterable[str], *, now: datetime | None = None) -> None:
        """The topics whose announcements the user receives (duplicates dropped, order kept)."""
        await self._set_preferences(user_id, utc(now), {"topics": topic_list(list(topics))})

    async def _set_preferences(self, user_id: int, now: datetime, values: dict[str, Any]) -> None:
        async with self._tx(write=True) as conn:
            await ensure_user(conn, user_id, now)
            stmt = dialect_insert(conn, preferences).values(user_id=user_id, **values)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[preferences.c.user_id],
                    set_={name: stmt.excluded[name] for name in values},
                )
            )


def topic_list(value: object) -> list[str]:
    """`value` as a list of topics (1 to 64 characters each), duplicates dropped; ValueError otherwise."""
    if not isinstance(value, list) or not all(isinstance(topic, str) for topic in value):
        raise ValueError(f"topics: expected a list of strings, got {value!r}")
    for topic in value:
        check_length("topic", topic, MAX_TOPIC)
    return list(dict.fromkeys(value))
