"""Events: created, imported, edited, moved, cancelled, and the calendar queries; reminders, RSVP and
whom to tell are in `bot.storage.attendance`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.events.records import (
    MAX_DESCRIPTION,
    MAX_LINK,
    MAX_PLACE,
    MAX_TITLE,
    MAX_UID,
    Audience,
    Event,
    EventFields,
    EventStatus,
    UpsertOutcome,
)
from bot.storage.attendance import AttendanceQueries
from bot.storage.base import (
    check_length,
    dialect_insert,
    utc,
    utc_value,
)
from bot.storage.schema import (
    events,
)

_EVENT_FIELDS = tuple(field.name for field in fields(EventFields))


class EventRepository(AttendanceQueries):
    """Events (created, imported, moved, cancelled), reminders and RSVP."""

    async def create_event(
        self,
        fields: EventFields,
        *,
        created_by: int | None,
        uid: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """A new scheduled event, revision 1. IntegrityError if `uid` exists already (see `upsert_event`)."""
        values = _event_values(fields)
        if uid is not None:
            check_length("uid", uid, MAX_UID)
        now = utc(now)
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                insert(events)
                .values(
                    uid=uid,
                    status=EventStatus.SCHEDULED.value,
                    revision=1,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(*events.c)
            )
            row = result.mappings().one()
        return event_record(row)

    async def update_event(
        self, event_id: int, fields: EventFields, *, now: datetime | None = None
    ) -> tuple[Event, frozenset[str]] | None:
        """Replace the event's fields; return it with the names of the fields that changed (None: unknown).

        The revision goes up when `starts_at` changes; nothing is written when nothing changed. The status
        is left as it is.
        """
        values = _event_values(fields)
        now = utc(now)
        async with self._tx(write=True) as conn:
            row = await _locked_event(conn, events.c.id == event_id)
            if row is None:
                return None
            return await _apply_event_values(conn, row, values, now)

    async def upsert_event(
        self, uid: str, fields: EventFields, *, now: datetime | None = None
    ) -> tuple[Event, UpsertOutcome]:
        """Create or update the event imported with this external id: importing twice never duplicates it.

        "created", "updated" (some field changed, see `update_event`) or "unchanged". The status is left as it
        is: a cancelled event imported again stays cancelled.
        """
        check_length("uid", uid, MAX_UID)
        values = _event_values(fields)
        now = utc(now)
        async with self._tx(write=True) as conn:
            stmt = dialect_insert(conn, events).values(
                uid=uid,
                status=EventStatus.SCHEDULED.value,
                revision=1,
                created_by=None,
                created_at=now,
                updated_at=now,
                **values,
            )
            result = await conn.execute(
                stmt.on_conflict_do_nothing(index_elements=[events.c.uid]).returning(*events.c)
            )
            created = result.mappings().first()
            if created is not None:
                return event_record(created), "created"
            row = await _locked_event(conn, events.c.uid == uid)
            assert row is not None  # it conflicted, and events are never deleted
            event, changed = await _apply_event_values(conn, row, values, now)
        return event, "updated" if changed else "unchanged"

    async def cancel_event(self, event_id: int, *, now: datetime | None = None) -> Event | None:
        """Mark the event cancelled (once: cancelling again changes nothing). None if unknown."""
        now = utc(now)
        async with self._tx(write=True) as conn:
            await conn.execute(
                update(events)
                .where(events.c.id == event_id, events.c.status != EventStatus.CANCELLED.value)
                .values(status=EventStatus.CANCELLED.value, updated_at=now)
            )
            row = (await conn.execute(select(events).where(events.c.id == event_id))).mappings().first()
        return None if row is None else event_record(row)

    async def get_event(self, event_id: int) -> Event | None:
        async with self._tx(write=False) as conn:
            row = (await conn.execute(select(events).where(events.c.id == event_id))).mappings().first()
        return None if row is None else event_record(row)

    async def get_event_by_uid(self, uid: str) -> Event | None:
        """The event imported with this external id, if any."""
        async with self._tx(write=False) as conn:
            row = (await conn.execute(select(events).where(events.c.uid == uid))).mappings().first()
        return None if row is None else event_record(row)

    async def upcoming_events(
        self,
        *,
        now: datetime | None = None,
        include_members_only: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Event]:
        """Scheduled events not over at `now` (ends_at, or else starts_at, ≥ now), soonest first.

        Members-only events are left out unless `include_members_only`.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset: 0 or more, got {limit} and {offset}")
        stmt = (
            select(events)
            .where(_upcoming(utc(now), include_members_only))
            .order_by(events.c.starts_at, events.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [event_record(row) for row in rows]

    async def count_upcoming(self, *, now: datetime | None = None, include_members_only: bool = False) -> int:
        """How many events `upcoming_events` lists over all its pages."""
        stmt = select(func.count()).select_from(events).where(_upcoming(utc(now), include_members_only))
        async with self._tx(write=False) as conn:
            return int(await conn.scalar(stmt) or 0)

    async def events_starting_between(self, start: datetime, end: datetime) -> list[Event]:
        """Scheduled events (any audience) with start ≤ starts_at < end, soonest first: the reminder tick."""
        return await self._scheduled_between(start, end)

    async def occurrences(self, series_uid: str, start: datetime, end: datetime) -> list[Event]:
        """Scheduled occurrences of an imported recurring event (uid `{series_uid}#…`) with start ≤ starts_at
        < end, soonest first."""
        return await self._scheduled_between(
            start, end, events.c.uid.startswith(f"{series_uid}#", autoescape=True)
        )

    async def _scheduled_between(
        self, start: datetime, end: datetime, *conditions: ColumnElement[bool]
    ) -> list[Event]:
        stmt = (
            select(events)
            .where(
                events.c.status == EventStatus.SCHEDULED.value,
                events.c.starts_at >= utc_value("start", start),
                events.c.starts_at < utc_value("end", end),
                *conditions,
            )
            .order_by(events.c.starts_at, events.c.id)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [event_record(row) for row in rows]


def _event_values(fields: EventFields) -> dict[str, Any]:
    """The columns of `fields`, checked (same rules on both backends) and normalised (UTC, Audience)."""
    check_length("title", fields.title, MAX_TITLE)
    for name, maximum in (("place", MAX_PLACE), ("link", MAX_LINK)):
        value = getattr(fields, name)
        if value is not None:
            check_length(name, value, maximum)
    if fields.description is not None:
        check_length("description", fields.description, MAX_DESCRIPTION)
    starts_at = utc_value("starts_at", fields.starts_at)
    ends_at = None if fields.ends_at is None else utc_value("ends_at", fields.ends_at)
    if ends_at is not None and ends_at < starts_at:
        raise ValueError(f"ends_at {ends_at} is before starts_at {starts_at}")
    return {
        "title": fields.title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "place": fields.place,
        "link": fields.link,
        "description": fields.description,
        "audience": Audience(fields.audience).value,
        "all_day": bool(fields.all_day),
    }


async def _locked_event(conn: AsyncConnection, condition: ColumnElement[bool]) -> RowMapping | None:
    """The event's row, locked until the end of the transaction on PostgreSQL (SQLite: the write lock)."""
    stmt = select(events).where(condition).with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def _apply_event_values(
    conn: AsyncConnection, row: RowMapping, values: Mapping[str, Any], now: datetime
) -> tuple[Event, frozenset[str]]:
    """Write the values that differ from `row` (revision + 1 if starts_at is one); the event, what changed."""
    changed = frozenset(name for name in _EVENT_FIELDS if values[name] != row[name])
    if not changed:
        return event_record(row), changed
    new: dict[str, Any] = {name: values[name] for name in changed} | {"updated_at": now}
    if "starts_at" in changed:
        new["revision"] = events.c.revision + 1
    result = await conn.execute(
        update(events).where(events.c.id == row["id"]).values(**new).returning(*events.c)
    )
    return event_record(result.mappings().one()), changed


def _upcoming(now: datetime, include_members_only: bool) -> ColumnElement[bool]:
    conditions = [
        events.c.status == EventStatus.SCHEDULED.value,
        func.coalesce(events.c.ends_at, events.c.starts_at) >= now,
    ]
    if not include_members_only:
        conditions.append(events.c.audience == Audience.ALL.value)
    return and_(*conditions)


def event_record(row: RowMapping) -> Event:
    return Event(
        id=row["id"],
        uid=row["uid"],
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        place=row["place"],
        link=row["link"],
        description=row["description"],
        audience=Audience(row["audience"]),
        status=EventStatus(row["status"]),
        revision=row["revision"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        all_day=bool(row["all_day"]),
    )
