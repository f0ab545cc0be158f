"""The iCalendar reader of `importer`: each VEVENT (and each occurrence of a recurring one) → `ImportedEvent`,
every problem named with its VEVENT, property and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from icalendar import Calendar, Component

from bot.errors import Problem
from bot.events.clock import paris_to_utc, to_utc
from bot.events.entries import (
    AUDIENCES,
    ImportedEvent,
    all_day_span,
    length_problem,
    link_problem,
    one_line,
    optional_text,
    shortened_description,
    title_problem,
    uid_problem,
)
from bot.events.records import MAX_PLACE, MAX_UID
from bot.events.recurrence import (
    OCCURRENCE_ID_LENGTH,
    is_override,
    is_recurring,
    next_after_window,
    occurrence_id,
    occurrences,
)

_SINGLE_PROPERTIES = ("UID", "SUMMARY", "DTSTART", "DTEND", "DURATION", "LOCATION", "URL", "DESCRIPTION")


@dataclass
class _Block:
    """Where one VEVENT and its own properties (not those of its VALARMs) are written in the file."""

    line: int
    properties: dict[str, int]


def _vevent_lines(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    depth = 0  # components open inside the current VEVENT (VALARM…), 0 when directly in it
    current: _Block | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line[0] in " \t":
            continue  # folded continuation of the previous property
        name = re.split(r"[;:]", line, maxsplit=1)[0].strip().upper()
        value = line.split(":", 1)[1].strip().upper() if ":" in line else ""
        if current is None:
            if name == "BEGIN" and value == "VEVENT":
                current = _Block(number, {})
                blocks.append(current)
        elif name == "BEGIN":
            depth += 1
        elif name == "END":
            if depth == 0:
                current = None
            else:
                depth -= 1
        elif depth == 0:
            current.properties.setdefault(name, number)
    return blocks


class IcsReader:
    def __init__(self, path: Path, now: datetime) -> None:
        self.path = path
        self.now = now
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.uids: dict[tuple[str, str], str] = {}  # (uid, RECURRENCE-ID) → the VEVENT that has it first
        self.series: dict[str, tuple[int, _Block]] = {}  # uid of a recurring event → its VEVENT
        self.later: dict[str, datetime] = {}  # uid of a series → its first occurrence after the window

    def read(self, source: str) -> tuple[list[ImportedEvent], list[Problem]]:
        try:
            calendar = Calendar.from_ical(source)
        except Exception as exc:  # icalendar raises several kinds of errors on garbage
            return [], [Problem(self.path, 1, f"not a valid iCalendar file: {exc}")]
        if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
            return [], [Problem(self.path, 1, "not an iCalendar file: it must start with BEGIN:VCALENDAR")]
        blocks = _vevent_lines(source)
        events: list[ImportedEvent] = []
        series = self.series
        for number, component in enumerate(calendar.walk("VEVENT"), start=1):
            block = blocks[number - 1] if number <= len(blocks) else _Block(1, {})
            event = self.vevent(component, number, block)
            if event is None:
                continue
            if is_recurring(component) or is_override(component):
                series.setdefault(event.uid, (number, block))
            else:
                events.append(event)
        if not self.problems and series:
            for component in occurrences(calendar, series, self.now):
                number, block = series[str(component["UID"]).strip()]
                event = self.vevent(component, number, block, occurrence_id(component))
                if event is not None:
                    events.append(event)
            self.later = next_after_window(calendar, series, self.now)
        problems = sorted(self.problems, key=lambda p: p.line)
        return ([] if problems else events), problems

    def vevent(
        self, event: Component, number: int, block: _Block, occurrence: str | None = None
    ) -> ImportedEvent | None:
        """The event of one VEVENT (or, with `occurrence`, of one occurrence of a series), or None after
        reporting its problems."""
        label = f"VEVENT[{number}]"
        uid_value = event.get("UID")
        uid = str(uid_value).strip() if isinstance(uid_value, str) else ""
        if uid and uid_problem(uid) is None:
            label = f"{label} (UID {uid})"
        count = len(self.problems)

        def bad(name: str, message: str) -> None:
            line = block.properties.get(name, block.line)
            self.problems.append(Problem(self.path, line, f"{label}: {name}: {message}"))

        broken = {str(name).upper(): str(message) for name, message in event.errors}
        for name, message in broken.items():
            if name not in ("DTSTART", "DTEND"):
                bad(name, message)
        for name in _SINGLE_PROPERTIES:
            if isinstance(event.get(name), list):
                bad(name, f"appears {len(event.get(name))} times, expected once")
        if occurrence is None:
            self.check_uid(event, uid, number, bad)
        title = one_line(self.text(event, "SUMMARY") or "")
        if "SUMMARY" not in event:
            bad("SUMMARY", "missing (the title of the event)")
        elif (what := title_problem(title)) is not None:
            bad("SUMMARY", what)
        times = self.times(event, broken, bad)
        link = optional_text(self.text(event, "URL"))
        if link is not None and (what := link_problem(link)) is not None:
            bad("URL", what)
        audience = self.audience(event, bad)
        place = optional_text(self.text(event, "LOCATION"))
        if place and (what := length_problem(one_line(place), MAX_PLACE)) is not None:
            bad("LOCATION", what)
        if len(self.problems) > count or times is None:
            return None

        def warn(what: str) -> None:
            line = block.properties.get("DESCRIPTION", block.line)
            if occurrence is None:  # once per VEVENT, not per occurrence
                self.warnings.append(Problem(self.path, line, f"{label}: DESCRIPTION: {what}"))

        return ImportedEvent(
            uid=uid if occurrence is None else f"{uid}#{occurrence}",
            title=title,
            starts_at=times[0],
            ends_at=times[1],
            place=one_line(place) if place else None,
            link=link,
            description=shortened_description(self.text(event, "DESCRIPTION"), warn),
            audience=audience,
            status="cancelled" if (self.text(event, "STATUS") or "").upper() == "CANCELLED" else "scheduled",
            all_day=times[2],
        )

    def check_uid(self, event: Component, uid: str, number: int, bad: Callable[[str, str], None]) -> None:
        recurring = is_recurring(event) or is_override(event)
        override = str(event.get("RECURRENCE-ID").to_ical().decode()) if is_override(event) else ""
        if "UID" not in event:
            bad("UID", "missing (a stable identifier of the event)")
        elif (what := uid_problem(uid)) is not None:
            bad("UID", what)
        elif recurring and len(uid) > MAX_UID - OCCURRENCE_ID_LENGTH:
            limit = MAX_UID - OCCURRENCE_ID_LENGTH
            bad("UID", f"at most {limit} characters for a recurring event, got {len(uid)}")
        elif (uid, override) in self.uids:
            bad("UID", f"duplicate UID « {uid} » (also in {self.uids[uid, override]})")
        else:
            self.uids[uid, override] = f"VEVENT[{number}]"

    @staticmethod
    def text(event: Component, name: str) -> str | None:
        value = event.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else str(value)

    @staticmethod
    def audience(event: Component, bad: Callable[[str, str], None]) -> str:
        explicit = IcsReader.text(event, "X-CATABOT-AUDIENCE")
        if explicit is not None:
            if explicit.strip().lower() in AUDIENCES:
                return explicit.strip().lower()
            bad("X-CATABOT-AUDIENCE", f"must be all or members, got « {explicit} »")
            return "all"
        privacy = (IcsReader.text(event, "CLASS") or "").strip().upper()
        return "members" if privacy in ("PRIVATE", "CONFIDENTIAL") else "all"

    def moment(
        self, event: Component, name: str, broken: dict[str, str], bad: Callable[[str, str], None]
    ) -> date | datetime | None:
        """DTSTART/DTEND as a date (all-day) or an aware UTC datetime; None if absent or wrong (reported)."""
        if name in broken:
            bad(name, f"not a date: {broken[name]}")
            return None
        prop = event.get(name)
        if prop is None or isinstance(prop, list):
            return None
        value: Any = getattr(prop, "dt", None)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                return to_utc(value)
            tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
            if tzid:
                bad(name, f"unknown time zone « {tzid} » (add its VTIMEZONE, or write the time in UTC)")
                return None
            return paris_to_utc(value)  # floating time: Europe/Paris
        if isinstance(value, date):
            return value
        bad(name, f"not a date or a date-time: « {prop!s} »")
        return None

    def times(
        self, event: Component, broken: dict[str, str], bad: Callable[[str, str], None]
    ) -> tuple[datetime, datetime | None, bool] | None:
        if "DTSTART" not in event and "DTSTART" not in broken:
            bad("DTSTART", "missing (when the event starts)")
            return None
        start = self.moment(event, "DTSTART", broken, bad)
        end = self.moment(event, "DTEND", broken, bad)
        duration = event.get("DURATION")
        if start is None or (("DTEND" in event or "DTEND" in broken) and end is None):
            return None
        if end is not None and duration is not None:
            bad("DURATION", "give DTEND or DURATION, not both")
            return None
        if duration is not None:
            length = getattr(duration, "dt", None)
            if not isinstance(length, timedelta) or length <= timedelta(0):
                bad("DURATION", f"must be a positive duration, got « {duration!s} »")
                return None
            end = start + length
        if isinstance(start, datetime):
            if end is None:
                return start, None, False
            if not isinstance(end, datetime):
                bad("DTEND", "is a date while DTSTART has a time: write both alike")
                return None
            if end <= start:
                when = f"{end:%Y-%m-%d %H:%M} is not after {start:%Y-%m-%d %H:%M} UTC"
                bad("DTEND", f"must be after DTSTART ({when})")
                return None
            return start, end, False
        if end is None:
            return (*all_day_span(start, start), True)
        if isinstance(end, datetime):
            bad("DTEND", "has a time while DTSTART is a date (all-day): write both alike")
            return None
        if end <= start:
            bad("DTEND", f"must be after DTSTART (the day after the last one), got {end} for {start}")
            return None
        return (*all_day_span(start, end - timedelta(days=1)), True)
