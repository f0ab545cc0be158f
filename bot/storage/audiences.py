"""Who an announcement reaches: the active users of an audience, with or without those who opted out.

Audiences: "all", "members" (members and coordinators), "coordinators", "topic" (the users following a
topic) and "event" (those coming to an event, whose id the campaign keeps in its topic)."""

from __future__ import annotations

from sqlalchemy import Text, func, select, true, type_coerce

from bot.announcements.records import AnnouncementAudience
from bot.storage.attendance import coming_to
from bot.storage.base import MEMBER_ROLES, Repository
from bot.storage.preferences import topic_list
from bot.storage.schema import preferences, users
from bot.users.records import Role


class AudienceQueries(Repository):
    """The audience queries of `CampaignRepository` (which adds the campaigns themselves)."""

    async def announcement_recipients(
        self, audience: AnnouncementAudience | str, topic: str | None = None
    ) -> list[int]:
        """Active users of the audience who did not opt out of announcements, by id.

        Audiences: "all", "members" (members and coordinators), "coordinators", "topic" (users following
        `topic`, which is then required).
        """
        return [
            user_id for user_id, opted_in in await self._announcement_audience(audience, topic) if opted_in
        ]

    async def announcement_opted_out_count(
        self, audience: AnnouncementAudience | str, topic: str | None = None
    ) -> int:
        """How many active users of the audience `announcement_recipients` leaves out: they opted out."""
        return sum(not opted_in for _, opted_in in await self._announcement_audience(audience, topic))

    async def _announcement_audience(
        self, audience: AnnouncementAudience | str, topic: str | None
    ) -> list[tuple[int, bool]]:
        """(user id, not opted out) of the active users of the audience, by id."""
        audience = AnnouncementAudience(audience)
        if (audience in (AnnouncementAudience.TOPIC, AnnouncementAudience.EVENT)) != (topic is not None):
            raise ValueError(f"announcement audience {audience.value!r}: a topic with 'topic' and only then")
        if audience == AnnouncementAudience.EVENT:
            return [(user_id, True) for user_id in await self._event_participants(_event_id(topic))]
        opted_in = func.coalesce(preferences.c.announcements, true())
        stmt = (
            select(users.c.id, opted_in, preferences.c.topics)
            .select_from(users.outerjoin(preferences, preferences.c.user_id == users.c.id))
            .where(users.c.active == true())
            .order_by(users.c.id)
        )
        if audience == AnnouncementAudience.MEMBERS:
            stmt = stmt.where(users.c.role.in_(MEMBER_ROLES))
        elif audience == AnnouncementAudience.COORDINATORS:
            stmt = stmt.where(users.c.role == Role.COORDINATOR.value)
        elif audience == AnnouncementAudience.TOPIC:
            # Users following some topic; the topic itself is matched below, in Python (JSON in TEXT).
            stmt = stmt.where(type_coerce(preferences.c.topics, Text()) != "[]")
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            (user_id, bool(flag))
            for user_id, flag, topics in rows
            if topic is None or topic in topic_list(topics or [])
        ]

    async def _event_participants(self, event_id: int) -> list[int]:
        """Active users who answered yes or maybe to the event, by id: a message about an event they come
        to reaches them even if they opted out of announcements."""
        return await self._user_ids(users.c.id.in_(coming_to(event_id)))


def _event_id(topic: str | None) -> int:
    """The event id an "event" campaign keeps in `topic` (ValueError when it is not one)."""
    if topic is None or not topic.isdigit():
        raise ValueError(f"an event campaign's topic is its event id, got {topic!r}")
    return int(topic)
