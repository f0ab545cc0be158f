"""Events for chat users: the calendar, reminders planned into the outbox, change notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, utc_now
from bot.delivery.outbox import Delivery, Status
from bot.delivery.sender import Skip
from bot.events.clock import utc_to_paris
from bot.events.planning import due_reminders, horizon
from bot.events.records import (
    EDITABLE_FIELDS,
    Audience,
    Event,
    EventFields,
    EventStatus,
    RsvpAnswer,
    UpsertOutcome,
)
from bot.text import visible
from bot.users.records import Role

if TYPE_CHECKING:
    from bot.storage.repository import Repositories, Storage

REMINDER = "reminder"
EVENT_NOTICE = "event_notice"
EVENT_CHANGE = "event_change"
CANCELLED_KEY = "cancelled"  # the key of the EVENT_CHANGE delivery telling an event was cancelled
MOVED_PREFIX = "moved"  # EVENT_CHANGE keys: f"moved@r{revision}", f"place{stamp}@r{revision}"
PLACE_PREFIX = "place"
PAGE_SIZE = 3


@dataclass(frozen=True)
class Page:
    events: list[Event]
    number: int
    pages: int


@dataclass(frozen=True)
class Card:
    """What one user's event card shows besides the event: their reminder and answer, and (coordinators
    only) the answers' counts by RSVP answer."""

    reminded: bool
    chosen: str | None
    counts: dict[str, int] | None


class EventService:
    def __init__(self, storage: Storage, offsets: Sequence[dt.timedelta], clock: Clock = utc_now) -> None:
        self.storage = storage
        self.offsets = tuple(sorted(offsets, reverse=True))
        self.clock = clock

    async def page(self, number: int, *, members: bool) -> Page:
        now = self.clock()
        total = await self.storage.events.count_upcoming(now=now, include_members_only=members)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(number, 1), pages)
        events = await self.storage.events.upcoming_events(
            now=now, include_members_only=members, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        return Page(events, number, pages)

    async def in_period(
        self, first: dt.date, last: dt.date, *, members: bool, limit: int = 20
    ) -> list[Event]:
        """Scheduled events not over yet that start between the Paris days `first` and `last` (included),
        soonest first, at most `limit`."""
        upcoming = await self.storage.events.upcoming_events(
            now=self.clock(), include_members_only=members, limit=500
        )
        return [e for e in upcoming if first <= utc_to_paris(e.starts_at).date() <= last][:limit]

    async def get(self, event_id: int) -> Event | None:
        return await self.storage.events.get_event(event_id)

    async def visible(self, event_id: int, role: Role) -> Event | None:
        """The event if a user of `role` may see it: scheduled, and members-only ones for members and up."""
        event = await self.storage.events.get_event(event_id)
        if event is None or event.status != EventStatus.SCHEDULED:
            return None
        if event.audience == Audience.MEMBERS and role < Role.MEMBER:
            return None
        return event

    async def card(self, event: Event, user_id: int, role: Role) -> Card:
        """The user's reminder and RSVP for `event`; the RSVP counts only for coordinators and admins."""
        reminded = event.id in await self.storage.events.reminder_event_ids(user_id)
        chosen = await self.storage.events.rsvp_of(user_id, event.id)
        counts = await self.storage.events.rsvp_counts(event.id) if role >= Role.COORDINATOR else None
        return Card(reminded, chosen, counts)

    async def edit(self, event_id: int, field: str, value: str | None) -> Event | None:
        """Change one of `EDITABLE_FIELDS` (None clears an optional one); a new place is told to those
        concerned, in the event's transaction. None if the event is unknown or not scheduled; ValueError for
        another field, an empty title or a value over its limit (`FIELD_LIMITS`)."""
        if field not in EDITABLE_FIELDS:
            raise ValueError(f"not an editable field: {field!r}")
        if field == "title" and not visible(value or ""):
            raise ValueError("title: must be a non-empty text")
        now = self.clock()
        async with self.storage.uow() as tx:
            event = await tx.events.get_event(event_id)
            if event is None or event.status != EventStatus.SCHEDULED:
                return None
            changes: dict[str, Any] = {field: value}
            updated = await _update(tx, event, replace(event.fields(), **changes), now)
        return event if updated is None else updated[0]

    async def participants(self, event_id: int) -> list[int]:
        """Who answered yes or maybe to the event (active, within its audience); [] for an unknown event."""
        event = await self.storage.events.get_event(event_id)
        return [] if event is None else await self.storage.events.participants(event)

    async def toggle_reminder(self, user_id: int, event_id: int) -> bool:
        """Switch the user's reminder for the event; whether it is now on."""
        return await self.storage.events.toggle_reminder(user_id, event_id, now=self.clock())

    async def rsvp(self, user_id: int, event_id: int, answer: RsvpAnswer | str) -> None:
        """Record the user's answer ("yes", "maybe", "no"; ValueError otherwise)."""
        await self.storage.events.set_rsvp(user_id, event_id, answer, now=self.clock())

    async def deliverable(self, delivery: Delivery) -> Event:
        """The event of a reminder or notice about to be sent; `Skip` (with the reason) when it must not go.

        Reminders and new-event notices go only for a scheduled event not started yet, reminders only for
        the event's current time (`@r<revision>`); a move notice only if no later change superseded it.
        """
        event = await self.storage.events.get_event(delivery.ref_id)
        if event is None:
            raise Skip("event deleted")
        if delivery.kind in (REMINDER, EVENT_NOTICE):
            if event.status != EventStatus.SCHEDULED or event.starts_at <= self.clock():
                raise Skip("event cancelled or started")
            if delivery.kind == REMINDER and not delivery.key.endswith(f"@r{event.revision}"):
                raise Skip("event moved")
        elif delivery.kind == EVENT_CHANGE and delivery.key != CANCELLED_KEY:  # noqa: SIM102
            if not delivery.key.endswith(f"@r{event.revision}") or event.status != EventStatus.SCHEDULED:
                raise Skip("superseded by a later change")
        return event

    async def publish(self, fields: EventFields, *, created_by: int) -> Event:
        """Create an event and notify those who asked for new-event notices (one transaction)."""
        now = self.clock()
        async with self.storage.uow() as tx:
            event = await tx.events.create_event(fields, created_by=created_by, now=now)
            recipients = await tx.events.event_notice_recipients(event)
            await tx.outbox.enqueue(EVENT_NOTICE, event.id, recipients, "new", not_before=now, now=now)
        return event

    async def move(self, event_id: int, starts_at: dt.datetime, ends_at: dt.datetime | None) -> Event | None:
        """Change the time; subscribers are told, and reminders are planned again for the new time, in the
        event's transaction. None if the event is unknown or not scheduled."""
        now = self.clock()
        async with self.storage.uow() as tx:
            event = await tx.events.get_event(event_id)
            if event is None or event.status != EventStatus.SCHEDULED:
                return None
            fields = replace(event.fields(), starts_at=starts_at, ends_at=ends_at)
            updated = await _update(tx, event, fields, now)
        return None if updated is None else updated[0]

    async def move_to(self, event_id: int, starts_at: dt.datetime) -> Event | None:
        """`move`, keeping the event's duration (an event without an end keeps none)."""
        event = await self.storage.events.get_event(event_id)
        if event is None:
            return None
        ends_at = event.ends_at + (starts_at - event.starts_at) if event.ends_at else None
        return await self.move(event_id, starts_at, ends_at)

    async def import_event(
        self, uid: str, fields: EventFields, *, cancelled: bool = False
    ) -> tuple[Event, UpsertOutcome, bool]:
        """Create or update the event imported with this external id, notifying like the card does, in one
        transaction.

        A new time for a scheduled event tells its subscribers and plans the reminders again (see `move`);
        `cancelled` cancels it (see `cancel`); a cancelled event stays cancelled. Returns the event,
        "created"/"updated"/"unchanged", and whether this import cancelled it.
        """
        now = self.clock()
        async with self.storage.uow() as tx:
            existing = await tx.events.get_event_by_uid(uid)
            outcome: UpsertOutcome
            if existing is None or existing.status != EventStatus.SCHEDULED:
                event, outcome = await tx.events.upsert_event(uid, fields, now=now)
            else:
                updated = await _update(tx, existing, fields, now)
                event = updated[0] if updated else existing
                outcome = "updated" if updated and updated[1] else "unchanged"
            if cancelled and event.status == EventStatus.SCHEDULED:
                return await _cancel(tx, event, now), outcome, True
        return event, outcome, False

    async def cancel_missing_occurrences(
        self, series_uid: str, kept: AbstractSet[str], start: dt.datetime, end: dt.datetime
    ) -> int:
        """Cancel (telling those concerned) the stored occurrences of a recurring event, between `start` and
        `end`, whose uid is not in `kept`: an EXDATE or a shorter RRULE in the file imported again. How many
        were cancelled."""
        missing = [
            e for e in await self.storage.events.occurrences(series_uid, start, end) if e.uid not in kept
        ]
        return sum([await self.cancel(e.id) is not None for e in missing])

    async def cancel(self, event_id: int) -> Event | None:
        """Cancel the event and tell those it concerns, in one transaction; None if unknown or not
        scheduled."""
        now = self.clock()
        async with self.storage.uow() as tx:
            event = await tx.events.get_event(event_id)
            if event is None or event.status != EventStatus.SCHEDULED:
                return None
            return await _cancel(tx, event, now)

    async def plan_reminders(self) -> int:
        """The scheduler tick: record every reminder now due (idempotently); the sender does the rest.

        After downtime only the closest reminder of each (event, person) is sent; the earlier ones are
        recorded as skipped so they are never sent late.
        """
        if not self.offsets:
            return 0
        now = self.clock()
        events = await self.storage.events.events_starting_between(now, now + horizon(self.offsets))
        if not events:
            return 0
        recipients = {e.id: await self.storage.events.reminder_recipients(e) for e in events}
        already = await self.storage.outbox.existing_keys(REMINDER, [e.id for e in events])
        plan = due_reminders(events, recipients, self.offsets, now, already)
        new = 0
        for reminder in plan.send:
            new += await self.storage.outbox.enqueue(
                REMINDER, reminder.event_id, [reminder.user_id], reminder.key, not_before=now, now=now
            )
        for reminder in plan.skip:
            await self.storage.outbox.enqueue(
                REMINDER, reminder.event_id, [reminder.user_id], reminder.key, not_before=now, now=now,
                status=Status.SKIPPED, reason="superseded by a closer reminder",
            )  # fmt: skip
        return new


async def _update(
    tx: Repositories, event: Event, fields: EventFields, now: dt.datetime
) -> tuple[Event, frozenset[str]] | None:
    """Write the fields; a new time or place is told to those concerned (reminder subscribers, yes and maybe),
    and a new time drops the reminders planned for the old one."""
    updated = await tx.events.update_event(event.id, fields, now=now)
    if updated is None:
        return None
    moved, changed = updated
    key: str | None = None
    if changed & {"starts_at", "ends_at", "all_day"}:
        await tx.outbox.skip_pending(REMINDER, event.id, "event moved", now=now)
        key = f"{MOVED_PREFIX}@r{moved.revision}"
    elif "place" in changed:
        key = f"{PLACE_PREFIX}{int(now.timestamp() * 1000)}@r{moved.revision}"
    if key is not None:
        recipients = await tx.events.concerned_recipients(moved)
        await tx.outbox.enqueue(EVENT_CHANGE, event.id, recipients, key, not_before=now, now=now)
    return updated


async def _cancel(tx: Repositories, event: Event, now: dt.datetime) -> Event:
    recipients = await tx.events.concerned_recipients(event)
    cancelled = await tx.events.cancel_event(event.id, now=now)
    assert cancelled is not None  # events are never deleted
    await tx.outbox.skip_pending(REMINDER, event.id, "event cancelled", now=now)
    await tx.outbox.enqueue(EVENT_CHANGE, event.id, recipients, CANCELLED_KEY, not_before=now, now=now)
    return cancelled
