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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from bot.clock import utc_now
from bot.errors import Problem, ProblemsError
from bot.events.clock import LOCAL_FORMATS_HELP, paris_to_utc, parse_day, parse_local
from bot.events.decoding import decode
from bot.events.entries import (
    AUDIENCES,
    STATUSES,
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
from bot.events.ics_reader import IcsReader
from bot.events.records import MAX_PLACE
from bot.events.recurrence import occurrence_window

__all__ = ["EventImportError", "ImportedEvent", "ImportedFile", "check_events_file", "load_events_file"]

YAML_SUFFIXES = (".yaml", ".yml")
ICS_SUFFIXES = (".ics", ".ical", ".ifb", ".icalendar")

_ENTRY_FIELDS = ("uid", "title", "start", "end", "place", "link", "description", "audience", "status")
_NULL_TAG = "tag:yaml.org,2002:null"


class EventImportError(ProblemsError):
    """An events file with problems (`problems`: each `file:line: events[n] (uid …): field: what`)."""


@dataclass(frozen=True)
class ImportedFile:
    events: list[ImportedEvent]
    warnings: list[Problem]  # what was changed on the way (a description shortened), `file:line: …`
    series: tuple[str, ...] = ()  # uids of the recurring events, whose occurrences are in `events`
    window: tuple[datetime, datetime] | None = None  # the span of the occurrences imported (UTC)
    later: dict[str, datetime] = field(default_factory=dict)  # series uid → first occurrence left out

    def series_summaries(self) -> list[SeriesSummary]:
        """One line of facts per recurring event: how many occurrences are imported, the last one's start,
        and the first one left for a later re-import (None when the series ends within the window)."""
        summaries = []
        for uid in self.series:
            mine = [e for e in self.events if e.uid.startswith(f"{uid}#")]
            title = mine[0].title if mine else uid
            last = max((e.starts_at for e in mine), default=None)
            summaries.append(SeriesSummary(uid, title, len(mine), last, self.later.get(uid)))
        return summaries


@dataclass(frozen=True)
class SeriesSummary:
    uid: str
    title: str
    imported: int  # occurrences in the window
    last: datetime | None  # start of the last one imported (UTC)
    next_left_out: datetime | None  # start of the first one after the window, imported by a later re-import


def read_events_file(path: Path | str, *, now: datetime | None = None) -> ImportedFile:
    """The events of a .yaml/.yml or .ics file, in file order, with warnings; `EventImportError` listing
    every problem when there is one (then nothing is returned: a caller writes nothing).

    `now` (aware, default the current time) bounds the occurrences of recurring events. Reading the same file
    twice gives equal lists: importing is idempotent when the storage upserts by uid.
    """
    now = now or utc_now()
    events, problems, warnings, series, later = _parse(Path(path), now)
    if problems:
        raise EventImportError(problems)
    return ImportedFile(events, warnings, series, occurrence_window(now), later)


def load_events_file(path: Path | str, *, now: datetime | None = None) -> list[ImportedEvent]:
    """`read_events_file` without its warnings."""
    return read_events_file(path, now=now).events


def check_events_file(path: Path | str) -> list[Problem]:
    """Every problem of the file (empty when `load_events_file` would succeed)."""
    return _parse(Path(path), utc_now())[1]


_Parsed = tuple[list[ImportedEvent], list[Problem], list[Problem], tuple[str, ...], dict[str, datetime]]


def _parse(path: Path, now: datetime) -> _Parsed:
    """(events, problems, warnings, uids of the recurring events, their first occurrences left out)."""
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES + ICS_SUFFIXES:
        return [], [Problem(path, 1, "unknown kind of file: expected .yaml, .yml or .ics")], [], (), {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [Problem(path, 1, f"cannot read the file: {exc.strerror or exc}")], [], (), {}
    source, problem = decode(path, data)
    if source is None:
        return [], [problem] if problem else [], [], (), {}
    if suffix in YAML_SUFFIXES:
        yaml_reader = _YamlReader(path)
        return (*yaml_reader.read(source), yaml_reader.warnings, (), {})
    ics_reader = IcsReader(path, now)
    events, problems = ics_reader.read(source)
    return events, problems, ics_reader.warnings, tuple(ics_reader.series), ics_reader.later


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
        if uid_text and uid_problem(uid_text) is None:
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
        title = one_line(texts["title"] or "")
        if "title" not in fields:
            bad("title", "missing field")
        elif (what := title_problem(title)) is not None:
            bad("title", what)
        times = self.times(texts["start"], texts["end"], bad)
        link = optional_text(texts["link"])
        if link is not None and (what := link_problem(link)) is not None:
            bad("link", what)
        audience = (texts["audience"] or "all").strip()
        if audience not in AUDIENCES:
            bad("audience", f"must be all or members, got « {audience} »")
        status = (texts["status"] or "scheduled").strip()
        if status not in STATUSES:
            bad("status", f"must be scheduled or cancelled, got « {status} »")
        place = optional_text(texts["place"])
        if place and (what := length_problem(one_line(place), MAX_PLACE)) is not None:
            bad("place", what)
        if len(self.problems) > count or times is None:
            return None
        return ImportedEvent(
            uid=uid,
            title=title,
            starts_at=times[0],
            ends_at=times[1],
            place=one_line(place) if place else None,
            link=link,
            description=shortened_description(
                texts["description"], lambda what: self.warn(fields, label, what)
            ),
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
        if (what := uid_problem(uid)) is not None:
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
                return (*all_day_span(start_at.date(), start_at.date()), True)
            return paris_to_utc(start_at), None, False
        end_day, end_at = end
        if start_day != end_day:
            bad("end", "write start and end alike: both with a time, or both as dates alone (all-day)")
            return None
        if start_day:
            if end_at < start_at:
                bad("end", f"the last day « {last} » is before start « {first} »")
                return None
            return (*all_day_span(start_at.date(), end_at.date()), True)
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
