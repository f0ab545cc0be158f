"""What each user asked about an event (a reminder, an RSVP) and whom to tell of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events.records import Audience, Event, RsvpAnswer
from bot.storage.base import MEMBER_ROLES, Repository, dialect_insert, ensure_user, utc
from bot.storage.schema import event_subscriptions, events, preferences, rsvps, users


class AttendanceQueries(Repository):
    """The reminder and RSVP queries of `EventRepository` (which adds the events themselves)."""

    async def toggle_reminder(self, user_id: int, event_id: int, *, now: datetime | None = None) -> bool:
        """Switch "remind me" of this event for the user; return the new state.

        An unknown `user_id` is created as a newcomer; LookupError for an unknown event.
        """
        now = utc(now)
        async with self._tx(write=True) as conn:
            removed = await conn.execute(
                delete(event_subscriptions).where(
                    event_subscriptions.c.user_id == user_id, event_subscriptions.c.event_id == event_id
                )
            )
            if removed.rowcount > 0:
                return False
            await _check_event(conn, event_id)
            await ensure_user(conn, user_id, now)
            stmt = dialect_insert(conn, event_subscriptions).values(
                user_id=user_id, event_id=event_id, created_at=now
            )
            await conn.execute(stmt.on_conflict_do_nothing())
        return True

    async def reminder_event_ids(self, user_id: int) -> set[int]:
        """The events the user asked to be reminded of."""
        stmt = select(event_subscriptions.c.event_id).where(event_subscriptions.c.user_id == user_id)
        async with self._tx(write=False) as conn:
            return set((await conn.scalars(stmt)).all())

    async def set_rsvp(
        self, user_id: int, event_id: int, answer: RsvpAnswer | str, *, now: datetime | None = None
    ) -> None:
        """The user's answer ("yes", "maybe", "no"), replacing the previous one.

        ValueError for another answer; an unknown `user_id` is created as a newcomer; LookupError for an
        unknown event.
        """
        value = RsvpAnswer(answer).value
        now = utc(now)
        async with self._tx(write=True) as conn:
            await _check_event(conn, event_id)
            await ensure_user(conn, user_id, now)
            stmt = dialect_insert(conn, rsvps).values(
                user_id=user_id, event_id=event_id, answer=value, updated_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[rsvps.c.user_id, rsvps.c.event_id],
                    set_={"answer": stmt.excluded.answer, "updated_at": stmt.excluded.updated_at},
                )
            )

    async def rsvp_of(self, user_id: int, event_id: int) -> RsvpAnswer | None:
        stmt = select(rsvps.c.answer).where(rsvps.c.user_id == user_id, rsvps.c.event_id == event_id)
        async with self._tx(write=False) as conn:
            answer = await conn.scalar(stmt)
        return None if answer is None else RsvpAnswer(answer)

    async def rsvp_counts(self, event_id: int) -> dict[str, int]:
        """{"yes": n, "maybe": n, "no": n}, zeros included."""
        stmt = (
            select(rsvps.c.answer, func.count()).where(rsvps.c.event_id == event_id).group_by(rsvps.c.answer)
        )
        async with self._tx(write=False) as conn:
            counted = {answer: int(n) for answer, n in (await conn.execute(stmt)).all()}
        return {answer.value: counted.get(answer.value, 0) for answer in RsvpAnswer}

    async def reminder_recipients(self, event: Event) -> list[int]:
        """Active users to remind of the event: those who asked for it, and those who want every reminder.

        Only members and coordinators for a members-only event. By id.
        """
        return await self._user_ids(_reminded(event.id), event_audience(event))

    async def concerned_recipients(self, event: Event) -> list[int]:
        """Active users to tell of a move or a cancellation: the reminder recipients and those who answered
        yes or maybe (each once; members-only events: members and coordinators only). By id."""
        wanted = or_(_reminded(event.id), users.c.id.in_(coming_to(event.id)))
        return await self._user_ids(wanted, event_audience(event))

    async def participants(self, event: Event) -> list[int]:
        """Active users who answered yes or maybe (within the event's audience). By id."""
        return await self._user_ids(users.c.id.in_(coming_to(event.id)), event_audience(event))

    async def event_notice_recipients(self, event: Event) -> list[int]:
        """Active users who want to hear about new events (members and coordinators only for a members-only
        event). By id."""
        wanted = select(preferences.c.user_id).where(preferences.c.new_event_notices == true())
        return await self._user_ids(users.c.id.in_(wanted), event_audience(event))


def coming_to(event_id: int) -> Select[tuple[int]]:
    """The ids of the users who answered yes or maybe to the event (a subquery)."""
    return select(rsvps.c.user_id).where(
        rsvps.c.event_id == event_id, rsvps.c.answer.in_([RsvpAnswer.YES.value, RsvpAnswer.MAYBE.value])
    )


def _reminded(event_id: int) -> ColumnElement[bool]:
    """The users who asked to be reminded of the event, or of every event."""
    chosen = select(event_subscriptions.c.user_id).where(event_subscriptions.c.event_id == event_id)
    everything = select(preferences.c.user_id).where(preferences.c.remind_all == true())
    return or_(users.c.id.in_(chosen), users.c.id.in_(everything))


async def _check_event(conn: AsyncConnection, event_id: int) -> None:
    if await conn.scalar(select(events.c.id).where(events.c.id == event_id)) is None:
        raise LookupError(f"unknown event {event_id}")


def event_audience(event: Event) -> ColumnElement[bool]:
    """The users who may attend the event: everyone, or members and coordinators."""
    if Audience(event.audience) == Audience.MEMBERS:
        return users.c.role.in_(MEMBER_ROLES)
    return true()
