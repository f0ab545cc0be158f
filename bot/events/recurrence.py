"""Occurrences of recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) of an iCalendar file,
computed by recurring-ical-events (https://github.com/niccokunzmann/python-recurring-ical-events)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

import recurring_ical_events
from icalendar import Calendar, Component

from bot.events.clock import paris_to_utc, to_utc

RECURRENCE_HORIZON = timedelta(days=366)  # how far after now occurrences are imported
OCCURRENCE_ID_LENGTH = len("#20270105T110000Z")  # what an occurrence adds to its series' uid


def is_recurring(component: Component) -> bool:
    return "RRULE" in component or "RDATE" in component


def is_override(component: Component) -> bool:
    """A VEVENT that changes one occurrence of a series (it has a RECURRENCE-ID)."""
    return "RECURRENCE-ID" in component


def occurrence_id(component: Component) -> str:
    """`20270105T110000Z` (UTC; a floating time is Europe/Paris) or `20270105` (all-day) of an occurrence:
    its RECURRENCE-ID, which stays the same when the occurrence is moved."""
    value: Any = getattr(component.get("RECURRENCE-ID") or component["DTSTART"], "dt", None)
    if isinstance(value, datetime):
        instant = to_utc(value) if value.tzinfo is not None else paris_to_utc(value)
        return instant.strftime("%Y%m%dT%H%M%SZ")
    assert isinstance(value, date)
    return value.strftime("%Y%m%d")


def occurrence_window(now: datetime) -> tuple[datetime, datetime]:
    """The span whose occurrences are imported: from a day before `now` to RECURRENCE_HORIZON after it."""
    return now - timedelta(days=1), now + RECURRENCE_HORIZON


def occurrences(calendar: Calendar, uids: Collection[str], now: datetime) -> list[Component]:
    """The occurrences of the series `uids` within `occurrence_window(now)`, soonest first; each has its own
    DTSTART/DTEND and a RECURRENCE-ID."""
    found = recurring_ical_events.of(calendar, components=["VEVENT"]).between(*occurrence_window(now))
    return [c for c in found if str(c.get("UID", "")).strip() in uids]


def next_after_window(calendar: Calendar, uids: Collection[str], now: datetime) -> dict[str, datetime]:
    """For each series of `uids` that goes on after `occurrence_window(now)`, the start (aware UTC) of its
    first occurrence left out, which a later re-import brings in; series that end within the window are
    absent. Looks at most 10 years past the window."""
    end = occurrence_window(now)[1]
    found: dict[str, datetime] = {}
    query = recurring_ical_events.of(calendar, components=["VEVENT"])
    for component in query.between(end, end + timedelta(days=3660)):
        uid = str(component.get("UID", "")).strip()
        if uid in uids and uid not in found:
            value = component["DTSTART"].dt
            if not isinstance(value, datetime):
                value = datetime(value.year, value.month, value.day)
            found[uid] = to_utc(value) if value.tzinfo is not None else paris_to_utc(value)
            if len(found) == len(uids):
                break
    return found
