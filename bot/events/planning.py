"""Which event reminders to send now: a pure function of the events, their recipients and what was recorded.

Offsets are written "7d", "1d", "2h", "30m" (or combined, "1d12h"). The days of an offset are **calendar days
in Europe/Paris**: « 1 day before » an event at 10:00 is 10:00 the day before, Paris wall clock, which is
23 or 25 real hours across a change of summer time. Hours and minutes are real elapsed time: « 2h before »
is always 7,200 seconds before the start.

Each reminder has a key `f"{offset_label}@r{revision}"` (e.g. "1d@r0"): the caller records
`(event_id, user_id, key)` for every reminder sent **or skipped**, and passes the recorded set back as
`already`. Moving an event bumps its revision, so its reminders get fresh keys and are planned again.

After downtime several offsets of one (event, user) can be due at once; only the most useful one is sent, the
smallest due offset (closest to the event), and the larger ones are returned as skipped so that they are
recorded and never sent later. If that smallest due offset was already recorded (e.g. « 7d » added to the
configuration after the « 1d » reminder went out), nothing is sent: a « J-7 » reminder the day before the
event would be wrong, so the larger ones are skipped too. An event that has started (starts_at <= now) or is
not "scheduled" has no due reminder.

A reminder is *late* when its instant passed more than `LATE` ago (the person subscribed after it, or the bot
was down). A late reminder is not sent when the next closer one is due within `MERGE`: it is recorded as
skipped and the closer one goes out on time, so turning on « Me rappeler » 2 h 05 before an event gives one
reminder, the 2-hour one, not the overdue 1-day one followed by the 2-hour one five minutes later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.events.clock import paris_to_utc, to_utc, utc_to_paris

DEFAULT_OFFSETS: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1), timedelta(hours=2))
LATE = timedelta(minutes=15)  # a reminder due longer ago than this is late (see the module docstring)
MERGE = timedelta(minutes=30)  # a late reminder gives way to a closer one due within this

_OFFSET = re.compile(r"(?:(?P<days>\d+)\s*d)?\s*(?:(?P<hours>\d+)\s*h)?\s*(?:(?P<minutes>\d+)\s*m)?", re.I)


class PlannedEvent(Protocol):
    """What planning reads from an event (the storage's `Event` fits by duck typing)."""

    @property
    def id(self) -> int: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def status(self) -> str: ...

    @property
    def revision(self) -> int: ...


@dataclass(frozen=True)
class Reminder:
    event_id: int
    user_id: int
    offset: timedelta
    key: str

    @property
    def record(self) -> tuple[int, int, str]:
        """What to store once sent or skipped, and to pass back in `already`."""
        return (self.event_id, self.user_id, self.key)


@dataclass(frozen=True)
class Plan:
    send: list[Reminder] = field(default_factory=list)
    skip: list[Reminder] = field(default_factory=list)


def parse_offset(text: str) -> timedelta:
    """ "7d" → 7 days, "2h" → 2 hours, "30m" → 30 minutes, "1d12h" → 1 day 12 hours; ValueError otherwise."""
    match = _OFFSET.fullmatch(text.strip())
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"not a reminder offset « {text} » (expected e.g. 7d, 1d, 2h, 30m)")
    offset = timedelta(
        days=int(match.group("days") or 0),
        hours=int(match.group("hours") or 0),
        minutes=int(match.group("minutes") or 0),
    )
    if offset <= timedelta(0):
        raise ValueError(f"not a reminder offset « {text} »: it must be more than zero")
    return offset


def parse_offsets(texts: str | Iterable[str]) -> tuple[timedelta, ...]:
    """Offsets from "7d, 1d, 2h" or ["7d", "1d", "2h"]: without duplicates, largest first."""
    items = texts.replace(",", " ").split() if isinstance(texts, str) else list(texts)
    if not items:
        raise ValueError("no reminder offset (expected e.g. 7d, 1d, 2h)")
    return tuple(sorted({parse_offset(item) for item in items}, reverse=True))


def offset_label(offset: timedelta) -> str:
    """The canonical text of an offset: "7d", "2h", "30m", "1d12h" ("24h" is written "1d")."""
    if offset <= timedelta(0) or offset.microseconds or offset.seconds % 60:
        raise ValueError(f"a reminder offset is a positive whole number of minutes, got {offset}")
    hours, minutes = divmod(offset.seconds // 60, 60)
    parts = [(offset.days, "d"), (hours, "h"), (minutes, "m")]
    return "".join(f"{number}{unit}" for number, unit in parts if number)


def horizon(offsets: Sequence[timedelta]) -> timedelta:
    """How far ahead of now to load events so that every due reminder is seen: the largest offset plus a day
    of margin (a day of a whole-day offset lasts 25 real hours across the October change of time)."""
    return max(offsets, default=timedelta(0)) + timedelta(days=1)


def reminder_key(offset: timedelta, revision: int) -> str:
    return f"{offset_label(offset)}@r{revision}"


def remind_at(starts_at: datetime, offset: timedelta) -> datetime:
    """The UTC instant of the reminder `offset` before `starts_at`: whole days on the Paris wall clock
    (see `paris_to_utc` for a wall time that falls in a change of summer time), then real hours/minutes."""
    at = to_utc(starts_at)
    if offset.days:
        local = utc_to_paris(at).replace(tzinfo=None)
        at = paris_to_utc(local - timedelta(days=offset.days))
    return at - timedelta(seconds=offset.seconds, microseconds=offset.microseconds)


def _upcoming(events: Iterable[PlannedEvent], now: datetime) -> list[PlannedEvent]:
    """Scheduled events that have not started, soonest first."""
    upcoming = [e for e in events if e.status == "scheduled" and to_utc(e.starts_at) > now]
    return sorted(upcoming, key=lambda e: (to_utc(e.starts_at), e.id))


def due_reminders(
    events: Iterable[PlannedEvent],
    recipients: Mapping[int, Sequence[int]],
    offsets: Sequence[timedelta],
    now: datetime,
    already: AbstractSet[tuple[int, int, str]],
) -> Plan:
    """The reminders to send now and those to record as skipped (see the module docstring).

    `recipients` maps an event id to the user ids to remind (missing: nobody); `now` must be aware.
    Reminders come soonest event first, then by user id; within one (event, user), skipped ones come
    largest offset first.
    """
    now = to_utc(now)
    wanted = sorted(set(offsets))  # smallest first
    plan = Plan()
    for event in _upcoming(events, now):
        due = [o for o in wanted if remind_at(event.starts_at, o) <= now]
        if not due:
            continue
        keys = {o: reminder_key(o, event.revision) for o in due}
        closer = wanted[: wanted.index(due[0])]  # offsets not due yet, smallest first
        late = now - remind_at(event.starts_at, due[0]) > LATE
        gives_way = late and bool(closer) and remind_at(event.starts_at, closer[-1]) - now <= MERGE
        for user in sorted(set(recipients.get(event.id, ()))):
            closest, *older = due
            if gives_way:
                older = due  # the closer one goes out on time, in a moment
            elif (event.id, user, keys[closest]) not in already:
                plan.send.append(Reminder(event.id, user, closest, keys[closest]))
            for offset in reversed(older):
                if (event.id, user, keys[offset]) not in already:
                    plan.skip.append(Reminder(event.id, user, offset, keys[offset]))
    return plan


def next_wakeup(
    events: Iterable[PlannedEvent], offsets: Sequence[timedelta], now: datetime
) -> datetime | None:
    """The earliest reminder instant (UTC) strictly after `now` among scheduled events that have not
    started, whoever the recipients and whatever was recorded; None if there is none."""
    now = to_utc(now)
    future = (
        at
        for event in _upcoming(events, now)
        for offset in set(offsets)
        if (at := remind_at(event.starts_at, offset)) > now
    )
    return min(future, default=None)
