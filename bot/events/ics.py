"""One event as an .ics file (RFC 5545) to add it to a calendar: a VCALENDAR with one VEVENT and a VALARM.

Times are written in Europe/Paris with TZID and the matching VTIMEZONE, so calendars show Paris time and
follow summer time. One exception keeps the round trip exact: a start or end in the hour repeated when summer
time ends, at its *second* occurrence (e.g. 02:30 CET on 25 October 2026), is written in UTC, because a TZID
time in that hour means its first occurrence (RFC 5545 §3.3.5).

The UID is stable (the event's uid, else `catabot-event-{id}@catabot`) and SEQUENCE is the revision, so a
calendar that imported the file earlier updates its copy when the event is moved or cancelled.
An all-day event (`all_day`) is written with dates (`DTSTART;VALUE=DATE`, DTEND the day after its last day,
RFC 5545 §3.6.1) and its alarm rings the day before at 09:00 Paris (TRIGGER -PT15H from midnight).
X-CATABOT-AUDIENCE (all|members) lets `importer` read the file back without making a members-only event
public.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from icalendar import Alarm, Calendar, Event

from bot.clock import PARIS
from bot.events.clock import to_utc


class ExportedEvent(Protocol):
    """What the export reads from an event (the storage's `Event` fits by duck typing)."""

    @property
    def id(self) -> int: ...

    @property
    def uid(self) -> str | None: ...

    @property
    def title(self) -> str: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime | None: ...

    @property
    def place(self) -> str | None: ...

    @property
    def link(self) -> str | None: ...

    @property
    def description(self) -> str | None: ...

    @property
    def audience(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def revision(self) -> int: ...

    @property
    def updated_at(self) -> datetime: ...


ALL_DAY_ALARM = timedelta(hours=15)  # before midnight of the first day: the day before at 09:00


def event_uid(event: ExportedEvent) -> str:
    return event.uid or f"catabot-event-{event.id}@catabot"


def _ics_time(moment: datetime) -> datetime:
    """Europe/Paris, unless that wall-clock time would be read back as another instant (then UTC)."""
    utc = to_utc(moment)
    local = utc.astimezone(PARIS)
    if local.replace(fold=0).astimezone(UTC) != utc:
        return utc
    return local


def event_to_ics(
    event: ExportedEvent,
    *,
    alarm_before: timedelta | None = timedelta(hours=2),
    prodid: str = "-//catabot//FR",
    dtstamp: datetime | None = None,
) -> bytes:
    """The .ics bytes (CRLF lines) of `event`.

    DTSTAMP is `dtstamp`, by default the event's `updated_at` (so the same event always gives the same
    bytes); no VALARM when `alarm_before` is None. A cancelled event has STATUS:CANCELLED.
    """
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    vevent = Event()
    vevent.add("uid", event_uid(event))
    vevent.add("dtstamp", to_utc(dtstamp or event.updated_at))
    vevent.add("sequence", event.revision)
    vevent.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    vevent.add("summary", event.title)
    all_day = bool(getattr(event, "all_day", False))  # duck-typed events may lack it
    if all_day:
        first = to_utc(event.starts_at).astimezone(PARIS).date()
        last = to_utc(event.ends_at or event.starts_at).astimezone(PARIS).date()
        vevent.add("dtstart", first)
        vevent.add("dtend", last + timedelta(days=1))
        if alarm_before is not None:
            alarm_before = ALL_DAY_ALARM
    else:
        vevent.add("dtstart", _ics_time(event.starts_at))
        if event.ends_at is not None:
            vevent.add("dtend", _ics_time(event.ends_at))
    if event.place:
        vevent.add("location", event.place)
    if event.link:
        vevent.add("url", event.link)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("x-catabot-audience", str(event.audience))  # read back by the importer
    if alarm_before is not None and event.status != "cancelled":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.title)
        alarm.add("trigger", -alarm_before)
        vevent.add_component(alarm)
    calendar.add_component(vevent)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
