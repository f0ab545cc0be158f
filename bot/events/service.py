"""Events for chat users: the calendar, reminders planned into the outbox, change notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.delivery.outbox import Status
from bot.events.planning import due_reminders, horizon
from bot.storage.repository import Event, EventFields, Storage
from bot.users.service import Clock, utc_now

REMINDER = "reminder"
EVENT_NOTICE = "event_notice"
EVENT_CHANGE = "event_change"
PAGE_SIZE = 3


@dataclass(frozen=True)
class Page:
    events: list[Event]
    number: int
    pages: int


class EventService:
    def __init__(self, storage: Storage, offsets: Sequence[dt.timedelta], clock: Clock = utc_now) -> None:
        self.storage = storage
        self.offsets = tuple(sorted(offsets, reverse=True))
        self.clock = clock

    async def page(self, number: int, *, members: bool) -> Page:
        now = self.clock()
        total = await self.storage.count_upcoming(now=now, include_members_only=members)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(number, 1), pages)
        events = await self.storage.upcoming_events(
            now=now, include_members_only=members, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        return Page(events, number, pages)

    async def publish(self, fields: EventFields, *, created_by: int) -> Event:
        """Create an event and notify those who asked for new-event notices."""
        now = self.clock()
        event = await self.storage.create_event(fields, created_by=created_by, now=now)
        recipients = await self.storage.event_notice_recipients(event)
        await self.storage.enqueue(EVENT_NOTICE, event.id, recipients, "new", not_before=now, now=now)
        return event

    async def move(self, event_id: int, starts_at: dt.datetime, ends_at: dt.datetime | None) -> Event | None:
        """Change the time; subscribers are told, and reminders are planned again for the new time."""
        event = await self.storage.get_event(event_id)
        if event is None or event.status != "scheduled":
            return None
        fields = EventFields(
            event.title, starts_at, ends_at, event.place, event.link, event.description, event.audience
        )
        now = self.clock()
        updated = await self.storage.update_event(event_id, fields, now=now)
        if updated is None:
            return None
        moved, changed = updated
        if "starts_at" in changed or "ends_at" in changed:
            await self.storage.skip_pending(REMINDER, event_id, "event moved", now=now)
            recipients = await self.storage.reminder_recipients(moved)
            await self.storage.enqueue(
                EVENT_CHANGE, event_id, recipients, f"moved@r{moved.revision}", not_before=now, now=now
            )
        return moved

    async def cancel(self, event_id: int) -> Event | None:
        now = self.clock()
        event = await self.storage.get_event(event_id)
        if event is None or event.status != "scheduled":
            return None
        recipients = await self.storage.reminder_recipients(event)
        cancelled = await self.storage.cancel_event(event_id, now=now)
        await self.storage.skip_pending(REMINDER, event_id, "event cancelled", now=now)
        await self.storage.enqueue(EVENT_CHANGE, event_id, recipients, "cancelled", not_before=now, now=now)
        return cancelled

    async def plan_reminders(self) -> int:
        """The scheduler tick: record every reminder now due (idempotently); the sender does the rest.

        After downtime only the closest reminder of each (event, person) is sent; the earlier ones are
        recorded as skipped so they are never sent late.
        """
        if not self.offsets:
            return 0
        now = self.clock()
        events = await self.storage.events_starting_between(now, now + horizon(self.offsets))
        if not events:
            return 0
        recipients = {e.id: await self.storage.reminder_recipients(e) for e in events}
        already = await self.storage.existing_keys(REMINDER, [e.id for e in events])
        plan = due_reminders(events, recipients, self.offsets, now, already)
        new = 0
        for reminder in plan.send:
            new += await self.storage.enqueue(
                REMINDER, reminder.event_id, [reminder.user_id], reminder.key, not_before=now, now=now
            )
        for reminder in plan.skip:
            await self.storage.enqueue(
                REMINDER, reminder.event_id, [reminder.user_id], reminder.key, not_before=now, now=now,
                status=Status.SKIPPED, reason="superseded by a closer reminder",
            )  # fmt: skip
        return new
