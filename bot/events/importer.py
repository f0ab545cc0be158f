"""Read a calendar of events from YAML (`knowledge/events.yaml`) or iCalendar (.ics).

Every problem is a `Problem` printed `file:line: entry: field: what`, e.g.
`knowledge/events.yaml:12: events[2] (uid rencontre-2027): start: not a date « 31/02/2027 10:00 »: …`
(entries are counted from 1, like the questionnaire's lists). The whole file is checked before anything is
returned: `EventImportError` lists every problem, so a coordinator fixes them in one go.

YAML format: a mapping with one key, `events:`, a list of entries with the fields
  uid          required, stable: the storage upserts on it, so re-importing a file updates, never duplicates;
  title        required, at most 200 characters;
  start        required, Europe/Paris local time: "2026-03-29 14:30", "29/03/2026 14h30", "29/03/2026 14:30",
               or a date alone ("2026-03-29", "29/03/2026") for an all-day event;
  end          optional, written like start (a time with a timed start, a date, the last day, with a date);
  place, link (http(s) URL), description   optional texts;
  audience     optional: all (default) or members;
  status       optional: scheduled (default) or cancelled.

.ics: each VEVENT gives UID, SUMMARY, DTSTART, DTEND (or DURATION), LOCATION, URL, DESCRIPTION, STATUS
(CANCELLED → cancelled, anything else → scheduled), audience from X-CATABOT-AUDIENCE, else CLASS PRIVATE or
CONFIDENTIAL → members, else all. Times with a TZID or in UTC keep their instant; floating times are
Europe/Paris.
Recurring events (RRULE, RDATE, EXDATE, and RECURRENCE-ID overrides) become one event per occurrence from a
day before `now` to `RECURRENCE_HORIZON` after it (recurring-ical-events), each with the uid
`{UID}#{RECURRENCE-ID}` (e.g. `cafe#20270105T110000Z`, a date for all-day ones) and its own answers and
reminders; importing the file again updates only the occurrences that changed.
A description longer than MAX_DESCRIPTION is shortened, with a warning; any other field over its limit is a
problem. The file may be UTF-8 or any encoding charset-normalizer recognises (see `decoding`).
Problems name the VEVENT (counted from 1, with its UID) and the property, at the line of that property.

All-day events (a date without a time, in YAML or VALUE=DATE in .ics) have no time, but the storage needs
instants: they start at 09:00 and end at 18:00 (Europe/Paris) on their last day, and `all_day` is True so
that a display can say « toute la journée » instead of showing those conventional hours. In .ics, DTEND of an
all-day event is the day *after* the last one (RFC 5545); in YAML, `end` is the last day itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from icalendar import Calendar, Component

from bot.clock import utc_now
from bot.errors import Problem, ProblemsError
from bot.events.clock import LOCAL_FORMATS_HELP, paris_to_utc, parse_day, parse_local, to_utc
from bot.events.decoding import decode
from bot.events.records import MAX_DESCRIPTION, MAX_LINK, MAX_PLACE, MAX_TITLE, MAX_UID, Audience, EventStatus
from bot.events.recurrence import (
    OCCURRENCE_ID_LENGTH,
    is_override,
    is_recurring,
    occurrence_id,
    occurrence_window,
    occurrences,
)

AUDIENCES = tuple(Audience)
STATUSES = tuple(EventStatus)
ALL_DAY_START = time(9, 0)
ALL_DAY_END = time(18, 0)
YAML_SUFFIXES = (".yaml", ".yml")
ICS_SUFFIXES = (".ics", ".ical", ".ifb", ".icalendar")

_ENTRY_FIELDS = ("uid", "title", "start", "end", "place", "link", "description", "audience", "status")
_NULL_TAG = "tag:yaml.org,2002:null"
_SINGLE_PROPERTIES = ("UID", "SUMMARY", "DTSTART", "DTEND", "DURATION", "LOCATION", "URL", "DESCRIPTION")


@dataclass(frozen=True)
class ImportedEvent:
    """One event read from a file; `starts_at`/`ends_at` are aware UTC datetimes."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    link: str | None
    description: str | None
    audience: str = "all"
    status: str = "scheduled"
    all_day: bool = False


class EventImportError(ProblemsError):
    """An events file with problems (`problems`: each `file:line: events[n] (uid …): field: what`)."""


@dataclass(frozen=True)
class ImportedFile:
    events: list[ImportedEvent]
    warnings: list[Problem]  # what was changed on the way (a description shortened), `file:line: …`
    series: tuple[str, ...] = ()  # uids of the recurring events, whose occurrences are in `events`
    window: tuple[datetime, datetime] | None = None  # the span of the occurrences imported (UTC)


def read_events_file(path: Path | str, *, now: datetime | None = None) -> ImportedFile:
    """The events of a .yaml/.yml or .ics file, in file order, with warnings; `EventImportError` listing
    every problem when there is one (then nothing is returned: a caller writes nothing).

    `now` (aware, default the current time) bounds the occurrences of recurring events. Reading the same file
    twice gives equal lists: importing is idempotent when the storage upserts by uid.
    """
    now = now or utc_now()
    events, problems, warnings, series = _parse(Path(path), now)
    if problems:
        raise EventImportError(problems)
    return ImportedFile(events, warnings, series, occurrence_window(now))


def load_events_file(path: Path | str, *, now: datetime | None = None) -> list[ImportedEvent]:
    """`read_events_file` without its warnings."""
    return read_events_file(path, now=now).events


def check_events_file(path: Path | str) -> list[Problem]:
    """Every problem of the file (empty when `load_events_file` would succeed)."""
    return _parse(Path(path), utc_now())[1]


_Parsed = tuple[list[ImportedEvent], list[Problem], list[Problem], tuple[str, ...]]


def _parse(path: Path, now: datetime) -> _Parsed:
    """(events, problems, warnings, uids of the recurring events)."""
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES + ICS_SUFFIXES:
        return [], [Problem(path, 1, "unknown kind of file: expected .yaml, .yml or .ics")], [], ()
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [Problem(path, 1, f"cannot read the file: {exc.strerror or exc}")], [], ()
    source, problem = decode(path, data)
    if source is None:
        return [], [problem] if problem else [], [], ()
    if suffix in YAML_SUFFIXES:
        yaml_reader = _YamlReader(path)
        return (*yaml_reader.read(source), yaml_reader.warnings, ())
    ics_reader = _IcsReader(path, now)
    events, problems = ics_reader.read(source)
    return events, problems, ics_reader.warnings, tuple(ics_reader.series)


# --- shared checks --------------------------------------------------------------------------------------


def _uid_problem(uid: str) -> str | None:
    if not uid:
        return "must be a non-empty text"
    if len(uid) > MAX_UID:
        return f"at most {MAX_UID} characters, got {len(uid)}"
    if re.search(r"\s", uid):
        return f"must not contain spaces, got « {uid} »"
    return None


def _title_problem(title: str) -> str | None:
    if not title:
        return "must be a non-empty text"
    return _length_problem(title, MAX_TITLE)


def _length_problem(text: str, maximum: int) -> str | None:
    return f"at most {maximum} characters, got {len(text)}" if len(text) > maximum else None


def _link_problem(link: str) -> str | None:
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"\s", link):
        return f"must be an http(s) URL, got « {link} »"
    return _length_problem(link, MAX_LINK)


def _description(text: str | None, warn: Callable[[str], None]) -> str | None:
    """The description, shortened to MAX_DESCRIPTION (with a warning) when longer."""
    description = _optional(text)
    if description is not None and len(description) > MAX_DESCRIPTION:
        warn(f"{len(description)} characters, shortened to {MAX_DESCRIPTION}")
        description = description[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return description


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _optional(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def _all_day(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        paris_to_utc(datetime.combine(first, ALL_DAY_START)),
        paris_to_utc(datetime.combine(last, ALL_DAY_END)),
    )


# --- YAML ---------------------------------------------------------------------------------------------


class _YamlReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.uids: dict[str, int] = {}  # uid → line, for duplicates

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.path, node.start_mark.line + 1, message))

    def read(self, source: str) -> tuple[list[ImportedEvent], list[Problem]]:
        loader = yaml.SafeLoader(source)
        try:
            root = loader.get_single_node()
            events = self.root(root)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            line = mark.line + 1 if mark is not None else 1
            return [], [Problem(self.path, line, f"not valid YAML: {what}")]
        finally:
            loader.dispose()
        problems = sorted(self.problems, key=lambda p: p.line)
        return ([] if problems else events), problems

    def root(self, root: yaml.Node | None) -> list[ImportedEvent]:
        if root is None:
            self.problems.append(Problem(self.path, 1, "the file is empty (expected « events: » and a list)"))
            return []
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with the key « events: »")
            return []
        events_node: yaml.Node | None = None
        for key_node, value_node in root.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "events" and events_node is None:
                events_node = value_node
            else:
                what = "unknown or repeated field (expected only « events: »)"
                self.problem(key_node, f"{key_node.value}: {what}")
        if events_node is None:
            self.problem(root, "events: missing field")
            return []
        if not isinstance(events_node, yaml.SequenceNode):
            self.problem(events_node, "events: expected a list (lines starting with '- '), or [] for none")
            return []
        events: list[ImportedEvent] = []
        for number, item in enumerate(events_node.value, start=1):
            event = self.entry(item, number)
            if event is not None:
                events.append(event)
        return events

    def entry(self, node: yaml.Node, number: int) -> ImportedEvent | None:
        label = f"events[{number}]"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{label}: expected a mapping of fields (uid: …, title: …, start: …)")
            return None
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        later: list[tuple[yaml.Node, str]] = []
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in _ENTRY_FIELDS:
                later.append((key_node, f"{key}: unknown field (known: {', '.join(_ENTRY_FIELDS)})"))
            elif key in fields:
                first = fields[key][0].start_mark.line + 1
                later.append((key_node, f"{key}: repeated field (first at line {first})"))
            else:
                fields[key] = (key_node, value_node)
        uid_text = self.scalar(fields, "uid")
        if uid_text and _uid_problem(uid_text) is None:
            label = f"{label} (uid {uid_text})"
        count = len(self.problems)
        wrong = {key for key, (_, value) in fields.items() if not isinstance(value, yaml.ScalarNode)}

        def bad(key: str, message: str) -> None:
            if key not in wrong:  # a list or a mapping is reported once, below
                where = fields[key][0] if key in fields else node
                self.problem(where, f"{label}: {key}: {message}")

        for where, message in later:
            self.problem(where, f"{label}: {message}")
        for key in sorted(wrong, key=_ENTRY_FIELDS.index):
            self.problem(
                fields[key][0], f"{label}: {key}: must be a text on the same line (not a list or a mapping)"
            )
        texts = {key: self.scalar(fields, key) for key in _ENTRY_FIELDS}
        uid_line = (fields["uid"][0] if "uid" in fields else node).start_mark.line + 1
        uid = self.uid(texts["uid"], uid_line, bad)
        title = _one_line(texts["title"] or "")
        if "title" not in fields:
            bad("title", "missing field")
        elif (what := _title_problem(title)) is not None:
            bad("title", what)
        times = self.times(texts["start"], texts["end"], bad)
        link = _optional(texts["link"])
        if link is not None and (what := _link_problem(link)) is not None:
            bad("link", what)
        audience = (texts["audience"] or "all").strip()
        if audience not in AUDIENCES:
            bad("audience", f"must be all or members, got « {audience} »")
        status = (texts["status"] or "scheduled").strip()
        if status not in STATUSES:
            bad("status", f"must be scheduled or cancelled, got « {status} »")
        place = _optional(texts["place"])
        if place and (what := _length_problem(_one_line(place), MAX_PLACE)) is not None:
            bad("place", what)
        if len(self.problems) > count or times is None:
            return None
        return ImportedEvent(
            uid=uid,
            title=title,
            starts_at=times[0],
            ends_at=times[1],
            place=_one_line(place) if place else None,
            link=link,
            description=_description(texts["description"], lambda what: self.warn(fields, label, what)),
            audience=audience,
            status=status,
            all_day=times[2],
        )

    def warn(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], label: str, what: str) -> None:
        line = fields["description"][0].start_mark.line + 1
        self.warnings.append(Problem(self.path, line, f"{label}: description: {what}"))

    @staticmethod
    def scalar(fields: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> str | None:
        """The text of a field as written (so `title: 2019` is "2019"); None when absent, empty or null."""
        if key not in fields:
            return None
        node = fields[key][1]
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
            return None
        return str(node.value)

    def uid(self, text: str | None, line: int, bad: Callable[[str, str], None]) -> str:
        if text is None:
            bad("uid", "missing field (a stable identifier, e.g. rencontre-2019)")
            return ""
        uid = text.strip()
        if (what := _uid_problem(uid)) is not None:
            bad("uid", what)
        elif uid in self.uids:
            bad("uid", f"duplicate uid « {uid} » (also at line {self.uids[uid]})")
        else:
            self.uids[uid] = line
        return uid

    def times(
        self, start_text: str | None, end_text: str | None, bad: Callable[[str, str], None]
    ) -> tuple[datetime, datetime | None, bool] | None:
        """(starts_at, ends_at, all-day?) in UTC, or None after reporting the problems."""
        if start_text is None:
            bad("start", f"missing field (Europe/Paris time, e.g. {LOCAL_FORMATS_HELP})")
            return None
        first = start_text.strip()
        last = end_text.strip() if end_text is not None else None
        start = _read_local(first, "start", bad)
        end = _read_local(last, "end", bad) if last is not None else None
        if start is None or (last is not None and end is None):
            return None
        start_day, start_at = start
        if last is None or end is None:
            if start_day:
                return (*_all_day(start_at.date(), start_at.date()), True)
            return paris_to_utc(start_at), None, False
        end_day, end_at = end
        if start_day != end_day:
            bad("end", "write start and end alike: both with a time, or both as dates alone (all-day)")
            return None
        if start_day:
            if end_at < start_at:
                bad("end", f"the last day « {last} » is before start « {first} »")
                return None
            return (*_all_day(start_at.date(), end_at.date()), True)
        starts_at, ends_at = paris_to_utc(start_at), paris_to_utc(end_at)
        if ends_at <= starts_at:
            bad("end", f"must be after start: « {last} » is not after « {first} »")
            return None
        return starts_at, ends_at, False


def _read_local(text: str, key: str, bad: Callable[[str, str], None]) -> tuple[bool, datetime] | None:
    """(all-day?, naive Paris datetime) of a YAML date field, or None after reporting the problem."""
    try:
        day = parse_day(text)
        return (True, day) if day is not None else (False, parse_local(text))
    except ValueError as exc:
        bad(key, str(exc))
        return None


# --- iCalendar ----------------------------------------------------------------------------------------


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


class _IcsReader:
    def __init__(self, path: Path, now: datetime) -> None:
        self.path = path
        self.now = now
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.uids: dict[tuple[str, str], str] = {}  # (uid, RECURRENCE-ID) → the VEVENT that has it first
        self.series: dict[str, tuple[int, _Block]] = {}  # uid of a recurring event → its VEVENT

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
        if uid and _uid_problem(uid) is None:
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
        title = _one_line(self.text(event, "SUMMARY") or "")
        if "SUMMARY" not in event:
            bad("SUMMARY", "missing (the title of the event)")
        elif (what := _title_problem(title)) is not None:
            bad("SUMMARY", what)
        times = self.times(event, broken, bad)
        link = _optional(self.text(event, "URL"))
        if link is not None and (what := _link_problem(link)) is not None:
            bad("URL", what)
        audience = self.audience(event, bad)
        place = _optional(self.text(event, "LOCATION"))
        if place and (what := _length_problem(_one_line(place), MAX_PLACE)) is not None:
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
            place=_one_line(place) if place else None,
            link=link,
            description=_description(self.text(event, "DESCRIPTION"), warn),
            audience=audience,
            status="cancelled" if (self.text(event, "STATUS") or "").upper() == "CANCELLED" else "scheduled",
            all_day=times[2],
        )

    def check_uid(self, event: Component, uid: str, number: int, bad: Callable[[str, str], None]) -> None:
        recurring = is_recurring(event) or is_override(event)
        override = str(event.get("RECURRENCE-ID").to_ical().decode()) if is_override(event) else ""
        if "UID" not in event:
            bad("UID", "missing (a stable identifier of the event)")
        elif (what := _uid_problem(uid)) is not None:
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
        explicit = _IcsReader.text(event, "X-CATABOT-AUDIENCE")
        if explicit is not None:
            if explicit.strip().lower() in AUDIENCES:
                return explicit.strip().lower()
            bad("X-CATABOT-AUDIENCE", f"must be all or members, got « {explicit} »")
            return "all"
        privacy = (_IcsReader.text(event, "CLASS") or "").strip().upper()
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
            return (*_all_day(start, start), True)
        if isinstance(end, datetime):
            bad("DTEND", "has a time while DTSTART is a date (all-day): write both alike")
            return None
        if end <= start:
            bad("DTEND", f"must be after DTSTART (the day after the last one), got {end} for {start}")
            return None
        return (*_all_day(start, end - timedelta(days=1)), True)
