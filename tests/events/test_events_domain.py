"""Events domain (pure, no database, no Telegram): Paris time, reminder planning, imports, .ics export."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Component

from bot.clock import PARIS
from bot.events.clock import format_when, paris_to_utc, parse_day, parse_local, utc_to_paris
from bot.events.ics import event_to_ics
from bot.events.importer import (
    EventImportError,
    ImportedEvent,
    check_events_file,
    load_events_file,
)
from bot.events.planning import (
    DEFAULT_OFFSETS,
    Plan,
    Reminder,
    due_reminders,
    horizon,
    next_wakeup,
    offset_label,
    parse_offset,
    parse_offsets,
    remind_at,
    reminder_key,
)
from bot.events.records import MAX_TITLE, Audience, Event, EventStatus

ROOT = Path(__file__).resolve().parents[2]
D7, D1, H2 = timedelta(days=7), timedelta(days=1), timedelta(hours=2)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """The UTC instant of a Paris wall-clock time (first occurrence when ambiguous)."""
    return paris_to_utc(datetime(year, month, day, hour, minute))


@dataclass(frozen=True)
class FakeEvent:
    """Duck-typed like the storage's Event."""

    id: int
    starts_at: datetime
    ends_at: datetime | None = None
    title: str = "Rencontre du réseau"
    uid: str | None = None
    place: str | None = None
    link: str | None = None
    description: str | None = None
    audience: str = "all"
    status: str = "scheduled"
    revision: int = 1
    created_by: int | None = 1
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    updated_at: datetime = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)


# --- clock ------------------------------------------------------------------------------------------------


def test_paris_to_utc_ordinary_times() -> None:
    assert paris_to_utc(datetime(2026, 1, 15, 14, 30)) == utc(2026, 1, 15, 13, 30)  # CET, +01:00
    assert paris_to_utc(datetime(2026, 7, 15, 14, 30)) == utc(2026, 7, 15, 12, 30)  # CEST, +02:00
    assert paris_to_utc(datetime(2026, 7, 15, 14, 30)).tzinfo is UTC


def test_paris_to_utc_ambiguous_october_time_is_the_first_occurrence() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice (00:30 and 01:30 UTC).
    assert paris_to_utc(datetime(2026, 10, 25, 2, 30)) == utc(2026, 10, 25, 0, 30)
    assert paris_to_utc(datetime(2026, 10, 25, 2, 30, fold=1)) == utc(2026, 10, 25, 0, 30)
    assert paris_to_utc(datetime(2026, 10, 25, 1, 59)) == utc(2026, 10, 24, 23, 59)
    assert paris_to_utc(datetime(2026, 10, 25, 3, 0)) == utc(2026, 10, 25, 2, 0)


def test_paris_to_utc_nonexistent_march_time_moves_forward_to_the_next_valid_time() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:00–02:59 do not exist and become 03:00 CEST.
    change = utc(2026, 3, 29, 1, 0)
    assert paris_to_utc(datetime(2026, 3, 29, 2, 30)) == change
    assert paris_to_utc(datetime(2026, 3, 29, 2, 0)) == change
    assert paris_to_utc(datetime(2026, 3, 29, 2, 59, 59, 999999)) == change
    assert paris_to_utc(datetime(2026, 3, 29, 3, 0)) == change
    assert utc_to_paris(change).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)
    assert paris_to_utc(datetime(2026, 3, 29, 1, 59)) == utc(2026, 3, 29, 0, 59)


def test_paris_to_utc_refuses_aware_and_utc_to_paris_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        paris_to_utc(utc(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        utc_to_paris(datetime(2026, 1, 1))


def test_utc_to_paris_marks_the_second_occurrence() -> None:
    second = utc_to_paris(utc(2026, 10, 25, 1, 30))
    assert (second.hour, second.minute, second.fold, second.utcoffset()) == (2, 30, 1, timedelta(hours=1))
    assert second.tzinfo is PARIS


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)))
def test_paris_to_utc_round_trips_every_existing_first_occurrence(local: datetime) -> None:
    instant = paris_to_utc(local)
    back = utc_to_paris(instant)
    if back.replace(tzinfo=None) == local:
        assert back.fold == 0  # the first occurrence when ambiguous
    else:  # in the March gap: moved forward to 03:00 summer time, the next valid time
        assert (local.month, local.hour, back.hour, back.minute, back.second) == (3, 2, 3, 0, 0)
        assert back.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-29 14:30",
        "29/03/2026 14h30",
        "29/03/2026 14:30",
        "29/03/2026 14H30",
        " 29/03/2026  14 h 30 ",
        "29/03/2026 à 14h30",
        "2026-03-29T14:30",
    ],
)
def test_parse_local_accepts_the_documented_formats(text: str) -> None:
    assert parse_local(text) == datetime(2026, 3, 29, 14, 30)


def test_parse_local_hour_alone() -> None:
    assert parse_local("29/03/2026 9h") == datetime(2026, 3, 29, 9, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("demain 14h", "not a date « demain 14h » (expected e.g. 2026-03-29 14:30"),
        ("31/02/2027 10:00", "not a date « 31/02/2027 10:00 »: February 2027 has no day 31"),
        ("2026-13-01 10:00", "there is no month 13"),
        ("29/03/2026 24h00", "24:00 is not a time of day"),
        ("29/03/2026 14:75", "14:75 is not a time of day"),
        ("29/03/2026", "the time is missing"),
        ("29/03/26 14:30", "expected e.g."),
        ("", "expected e.g."),
        ("01/01/0001 00h00", "the year must be between 1970 and 2100"),
        ("31/12/9999 23h59", "the year must be between 1970 and 2100"),
        ("٢٩/٠٣/٢٠٢٦ 14h30", "expected e.g."),  # other scripts' digits are not read as digits
    ],
)
def test_parse_local_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_local(text)
    assert message in str(caught.value)


def test_parse_day() -> None:
    assert parse_day("2019-06-26") == datetime(2019, 6, 26)
    assert parse_day("26/06/2019") == datetime(2019, 6, 26)
    assert parse_day("26/06/2019 10:00") is None
    with pytest.raises(ValueError, match="has no day 30"):
        parse_day("30/02/2019")


def test_format_when_french_and_english() -> None:
    start, end = paris(2026, 3, 12, 14, 30), paris(2026, 3, 12, 16, 0)
    assert format_when(start, end) == "jeudi 12 mars 2026, 14 h 30 – 16 h 00"
    assert format_when(start, end, "en") == "Thursday 12 March 2026, 2:30 pm – 4:00 pm"
    assert format_when(start, end, "en-GB") == "Thursday 12 March 2026, 2:30 pm – 4:00 pm"
    assert format_when(start) == "jeudi 12 mars 2026, 14 h 30"
    assert format_when(paris(2026, 8, 15, 9, 5), None, "fr") == "samedi 15 août 2026, 9 h 05"


def test_format_when_edge_cases() -> None:
    first = paris(2026, 3, 1, 0, 5)
    assert format_when(first) == "dimanche 1er mars 2026, 0 h 05"
    assert format_when(first, language="en") == "Sunday 1 March 2026, 12:05 am"
    assert format_when(paris(2026, 3, 2, 12, 0), language="en") == "Monday 2 March 2026, 12:00 pm"
    two_days = format_when(paris(2026, 12, 31, 18, 0), paris(2027, 1, 1, 2, 0))
    assert two_days == "jeudi 31 décembre 2026, 18 h 00 – vendredi 1er janvier 2027, 2 h 00"
    # Shown in Paris time whatever the zone given, and the repeated hour reads as it did on the clocks.
    assert format_when(utc(2026, 10, 25, 1, 30)) == "dimanche 25 octobre 2026, 2 h 30"
    assert format_when(utc(2026, 7, 14, 8, 0).astimezone(PARIS)) == "mardi 14 juillet 2026, 10 h 00"


def test_format_when_all_day() -> None:
    start, end = paris(2019, 6, 26, 9, 0), paris(2019, 6, 26, 18, 0)
    assert format_when(start, end, all_day=True) == "mercredi 26 juin 2019 (toute la journée)"
    assert format_when(start, end, "en", all_day=True) == "Wednesday 26 June 2019 (all day)"
    two = format_when(start, paris(2019, 6, 27, 18, 0), all_day=True)
    assert two == "mercredi 26 juin 2019 – jeudi 27 juin 2019 (toute la journée)"


def test_format_when_refuses_naive_and_unknown_language() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_when(datetime(2026, 3, 12, 14, 30))
    with pytest.raises(ValueError, match="unsupported language"):
        format_when(utc(2026, 3, 12), language="de")


# --- offsets -------------------------------------------------------------------------------------------


def test_parse_offsets_and_labels() -> None:
    assert parse_offset("7d") == D7
    assert parse_offset("1d") == D1
    assert parse_offset("2h") == H2
    assert parse_offset(" 30m ") == timedelta(minutes=30)
    assert parse_offset("1d12h") == timedelta(days=1, hours=12)
    assert parse_offsets("7d, 1d, 2h") == DEFAULT_OFFSETS
    assert parse_offsets(["2h", "24h", "1d", "7d"]) == DEFAULT_OFFSETS  # sorted, 24h == 1d
    assert [offset_label(o) for o in DEFAULT_OFFSETS] == ["7d", "1d", "2h"]
    assert offset_label(timedelta(hours=24)) == "1d"
    assert offset_label(timedelta(days=1, hours=12, minutes=5)) == "1d12h5m"
    assert reminder_key(D1, 3) == "1d@r3"
    assert horizon(DEFAULT_OFFSETS) == timedelta(days=8)


@pytest.mark.parametrize("text", ["", "7", "1w", "0m", "2 hours", "-1d", "d"])
def test_parse_offset_errors(text: str) -> None:
    with pytest.raises(ValueError, match="reminder offset"):
        parse_offset(text)


def test_offset_label_refuses_seconds() -> None:
    with pytest.raises(ValueError):
        offset_label(timedelta(seconds=90))


# --- reminders across summer time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_local", "reminder_utc", "real_hours"),
    [
        # October 2026 (Sunday 25: 03:00 CEST → 02:00 CET): after the change the day before is 25 h long.
        (datetime(2026, 10, 25, 10, 0), utc(2026, 10, 24, 8, 0), 25),
        (datetime(2026, 10, 25, 1, 30), utc(2026, 10, 23, 23, 30), 24),  # before the change
        (datetime(2026, 10, 26, 10, 0), utc(2026, 10, 25, 9, 0), 24),  # Monday: the day before is CET
        # March 2026 (Sunday 29: 02:00 CET → 03:00 CEST): after the change the day before is 23 h long.
        (datetime(2026, 3, 29, 10, 0), utc(2026, 3, 28, 9, 0), 23),
        (datetime(2026, 3, 29, 1, 30), utc(2026, 3, 28, 0, 30), 24),  # before the change
        (datetime(2026, 3, 30, 10, 0), utc(2026, 3, 29, 8, 0), 24),  # Monday: the day before is CEST
    ],
)
def test_one_day_reminder_is_the_same_paris_time_the_day_before(
    event_local: datetime, reminder_utc: datetime, real_hours: int
) -> None:
    starts_at = paris_to_utc(event_local)
    assert remind_at(starts_at, D1) == reminder_utc
    assert starts_at - reminder_utc == timedelta(hours=real_hours)
    local = utc_to_paris(reminder_utc)
    assert (local.hour, local.minute) == (event_local.hour, event_local.minute)
    event = FakeEvent(1, starts_at)
    just_before = due_reminders([event], {1: [7]}, [D1], reminder_utc - timedelta(microseconds=1), set())
    assert just_before == Plan()
    on_time = due_reminders([event], {1: [7]}, [D1], reminder_utc, set())
    assert on_time.send == [Reminder(1, 7, D1, "1d@r1")]
    assert next_wakeup([event], [D1], reminder_utc - timedelta(minutes=1)) == reminder_utc


def test_day_reminder_into_the_march_gap_moves_forward_and_hours_are_real_time() -> None:
    # The event is on Monday 30 March 02:30; Sunday 02:30 does not exist, so the reminder is at 03:00 CEST.
    assert remind_at(paris(2026, 3, 30, 2, 30), D1) == utc(2026, 3, 29, 1, 0)
    # 2 h before 03:30 CEST on the change day is 00:30 CET, i.e. exactly 2 real hours.
    assert remind_at(paris(2026, 3, 29, 3, 30), H2) == utc(2026, 3, 28, 23, 30)
    # The second 02:30 of 25 October (CET): the day before, 02:30 CEST, is 25 h earlier.
    assert remind_at(utc(2026, 10, 25, 1, 30), D1) == utc(2026, 10, 24, 0, 30)
    # A week before, across the change: same wall-clock time, 7 × 24 + 1 real hours.
    assert remind_at(paris(2026, 10, 31, 10, 0), D7) == utc(2026, 10, 24, 8, 0)
    assert paris(2026, 10, 31, 10, 0) - utc(2026, 10, 24, 8, 0) == timedelta(days=7, hours=1) < horizon([D7])


# --- due_reminders ------------------------------------------------------------------------------------

START = paris(2026, 6, 18, 14, 0)  # a Thursday, summer time


def plan_at(now: datetime, already: set[tuple[int, int, str]] | None = None, **changes: object) -> Plan:
    event = replace(FakeEvent(1, START), **changes)  # type: ignore[arg-type]
    return due_reminders([event], {1: [10]}, DEFAULT_OFFSETS, now, already or set())


def test_nothing_is_due_before_the_first_offset() -> None:
    assert plan_at(START - D7 - timedelta(seconds=1)) == Plan()


def test_reminders_on_time() -> None:
    assert plan_at(START - D7).send == [Reminder(1, 10, D7, "7d@r1")]
    assert plan_at(START - D1, {(1, 10, "7d@r1")}) == Plan(send=[Reminder(1, 10, D1, "1d@r1")])
    assert plan_at(START - H2, {(1, 10, "7d@r1"), (1, 10, "1d@r1")}) == Plan(
        send=[Reminder(1, 10, H2, "2h@r1")]
    )


def test_after_downtime_only_the_closest_offset_is_sent_the_older_ones_are_skipped() -> None:
    plan = plan_at(START - timedelta(hours=1))
    assert plan.send == [Reminder(1, 10, H2, "2h@r1")]
    assert plan.skip == [Reminder(1, 10, D7, "7d@r1"), Reminder(1, 10, D1, "1d@r1")]
    # Only the 7-day one went out before the downtime: the 1-day one is skipped, not sent late.
    plan = plan_at(START - timedelta(hours=1), {(1, 10, "7d@r1")})
    assert plan == Plan(send=[Reminder(1, 10, H2, "2h@r1")], skip=[Reminder(1, 10, D1, "1d@r1")])
    # Once everything is recorded (sent or skipped) nothing comes back.
    recorded = {r.record for r in plan.send + plan.skip} | {(1, 10, "7d@r1")}
    assert plan_at(START - timedelta(minutes=30), recorded) == Plan()


def test_a_larger_offset_is_never_sent_after_a_smaller_one() -> None:
    # « 7d » added to the configuration after the « 1d » reminder went out: skip it, do not send it.
    plan = plan_at(START - timedelta(hours=5), {(1, 10, "1d@r1")})
    assert plan == Plan(skip=[Reminder(1, 10, D7, "7d@r1")])


def test_never_twice() -> None:
    assert plan_at(START - D1, {(1, 10, "7d@r1"), (1, 10, "1d@r1")}) == Plan()
    assert plan_at(START - D7 + timedelta(hours=1), {(1, 10, "7d@r1")}) == Plan()


def test_never_once_the_event_has_started() -> None:
    assert plan_at(START) == Plan()
    assert plan_at(START + timedelta(minutes=1)) == Plan()
    assert plan_at(START + timedelta(days=2)) == Plan()


def test_cancelled_events_have_no_reminder() -> None:
    assert plan_at(START - timedelta(hours=1), status="cancelled") == Plan()


def test_a_moved_event_gets_fresh_keys() -> None:
    recorded = {(1, 10, "7d@r1"), (1, 10, "1d@r1"), (1, 10, "2h@r1")}
    assert plan_at(START - timedelta(hours=1), recorded) == Plan()
    moved = plan_at(START - timedelta(hours=1), recorded, revision=2)
    assert moved.send == [Reminder(1, 10, H2, "2h@r2")]
    assert [r.key for r in moved.skip] == ["7d@r2", "1d@r2"]


def test_several_events_and_recipients() -> None:
    later = FakeEvent(2, START + timedelta(days=1), revision=4)
    soon = FakeEvent(1, START)
    other = FakeEvent(3, START + timedelta(days=30))
    recipients = {1: [12, 10, 12], 2: [11], 4: [99]}  # duplicates collapse; event 3 has nobody
    plan = due_reminders([later, soon, other], recipients, DEFAULT_OFFSETS, START - timedelta(hours=3), set())
    assert plan.send == [
        Reminder(1, 10, D1, "1d@r1"),
        Reminder(1, 12, D1, "1d@r1"),
        Reminder(2, 11, D7, "7d@r4"),  # its 1-day reminder is due in 3 hours
    ]
    assert plan.skip == [Reminder(1, 10, D7, "7d@r1"), Reminder(1, 12, D7, "7d@r1")]


def test_due_reminders_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_reminders([FakeEvent(1, START)], {1: [1]}, DEFAULT_OFFSETS, datetime(2026, 6, 18), set())


def test_next_wakeup() -> None:
    events = [FakeEvent(1, START), FakeEvent(2, START - D1, status="cancelled"), FakeEvent(3, START - D7)]
    assert next_wakeup(events, DEFAULT_OFFSETS, START - timedelta(days=20)) == START - 2 * D7
    assert next_wakeup(events, DEFAULT_OFFSETS, START - D7) == START - D1  # event 3 has started at that time
    assert next_wakeup(events, DEFAULT_OFFSETS, START - H2) is None
    assert next_wakeup([], DEFAULT_OFFSETS, START) is None


# --- import: YAML ---------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_YAML = """\
# a comment
events:
  - uid: atelier-2026
    title: "  Atelier   catalyse  "
    start: 12/03/2026 14h30
    end: "2026-03-12 16:00"
    place: Maison des associations, Lille
    link: https://example.org/atelier
    description: |
      Première ligne.
      Deuxième ligne.
    audience: members
  - uid: journee-2026
    title: 2026
    start: 2026-06-26
  - uid: seminaire-2026
    title: Séminaire
    start: 29/03/2026
    end: 30/03/2026
    status: cancelled
  - uid: point-2026
    title: Point rapide
    start: 2026-10-25 02:30
"""


def test_yaml_happy_path(tmp_path: Path) -> None:
    events = load_events_file(write(tmp_path, "events.yaml", GOOD_YAML))
    assert events[0] == ImportedEvent(
        uid="atelier-2026",
        title="Atelier catalyse",
        starts_at=utc(2026, 3, 12, 13, 30),
        ends_at=utc(2026, 3, 12, 15, 0),
        place="Maison des associations, Lille",
        link="https://example.org/atelier",
        description="Première ligne.\nDeuxième ligne.",
        audience="members",
    )
    assert events[1] == ImportedEvent(
        uid="journee-2026",
        title="2026",
        starts_at=utc(2026, 6, 26, 7, 0),
        ends_at=utc(2026, 6, 26, 16, 0),
        place=None,
        link=None,
        description=None,
        all_day=True,
    )
    seminar = events[2]
    # 29 March 2026 is the day of the change: 09:00 is already summer time.
    assert (seminar.starts_at, seminar.ends_at) == (utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 16, 0))
    assert (seminar.status, seminar.all_day, seminar.audience) == ("cancelled", True, "all")
    assert events[3].starts_at == utc(2026, 10, 25, 0, 30)  # ambiguous: first occurrence
    assert events[3].ends_at is None


def test_reimport_gives_identical_events(tmp_path: Path) -> None:
    path = write(tmp_path, "events.yaml", GOOD_YAML)
    assert load_events_file(path) == load_events_file(str(path))
    assert check_events_file(path) == []


def test_the_shipped_example_calendar_is_valid_and_only_sourced_past_events() -> None:
    path = ROOT / "knowledge" / "events.yaml"
    events = load_events_file(path)
    assert [e.starts_at.date() for e in events] == [
        date(2019, 2, 21),
        date(2019, 6, 26),
        date(2020, 7, 8),
        date(2021, 3, 30),
        date(2022, 2, 10),
    ]
    header = path.read_text(encoding="utf-8").split("events:")[0]
    assert "catabot events import knowledge/events.yaml" in header and "idempotent" in header
    for event in events:
        assert event.starts_at < utc(2023, 1, 1)
        assert event.description is not None
        assert event.description.startswith("Exemple passé")
        assert "Source" in event.description and event.link and event.link in event.description
        assert event.all_day


def problems_of(tmp_path: Path, text: str, name: str = "events.yaml") -> list[str]:
    path = write(tmp_path, name, text)
    with pytest.raises(EventImportError) as caught:
        load_events_file(path)
    assert check_events_file(path) == caught.value.problems
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    prefix = f"{path}:"
    assert all(str(p).startswith(prefix) for p in caught.value.problems)
    return [str(p)[len(prefix) :] for p in caught.value.problems]


def entry(uid: str = "rencontre-2027", **fields: str) -> str:
    values = {"title": "Rencontre", "start": "2027-06-30 10:00", **fields}
    lines = [f"  - uid: {uid}"] + [f"    {key}: {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def test_yaml_bad_date_names_file_line_entry_and_field(tmp_path: Path) -> None:
    text = "events:\n" + entry("atelier-2027") + entry(start='"31/02/2027 10:00"')
    assert problems_of(tmp_path, text) == [
        "7: events[2] (uid rencontre-2027): start: not a date « 31/02/2027 10:00 »: "
        "February 2027 has no day 31"
    ]


ENTRY = "events[1] (uid rencontre-2027)"
HELP = "(expected e.g. 2026-03-29 14:30, 29/03/2026 14h30 or 29/03/2026 14:30)"
KNOWN = "uid, title, start, end, place, link, description, audience, status"
AFTER = "end: must be after start: « 2027-06-30 {} » is not after « 2027-06-30 10:00 »"
ALIKE = "write start and end alike: both with a time, or both as dates alone (all-day)"
BEFORE = "the last day « 2027-07-01 » is before start « 2027-07-02 »"


@pytest.mark.parametrize(
    ("fields", "line", "message"),
    [
        ({"title": '""'}, 3, "title: must be a non-empty text"),
        ({"title": '"\\u200b\\u200b\\u200d"'}, 3, "title: must be a non-empty text"),  # zero-width only
        ({"title": '"\\u3164 \\u2060"'}, 3, "title: must be a non-empty text"),  # a Hangul filler, a joiner
        ({"title": "x" * (MAX_TITLE + 1)}, 3, f"title: at most 200 characters, got {MAX_TITLE + 1}"),
        ({"title": "[a, b]"}, 3, "title: must be a text on the same line (not a list or a mapping)"),
        ({"start": "demain"}, 4, f"start: not a date « demain » {HELP}"),
        ({"end": "2027-06-30 09:00"}, 5, AFTER.format("09:00")),
        ({"end": "2027-06-30 10:00"}, 5, AFTER.format("10:00")),
        ({"end": "2027-07-01"}, 5, f"end: {ALIKE}"),
        ({"start": "2027-07-02", "end": "2027-07-01"}, 5, f"end: {BEFORE}"),
        ({"end": "32/07/2027 10:00"}, 5, "end: not a date « 32/07/2027 10:00 »: July 2027 has no day 32"),
        ({"audience": "public"}, 5, "audience: must be all or members, got « public »"),
        ({"status": "postponed"}, 5, "status: must be scheduled or cancelled, got « postponed »"),
        ({"link": "ftp://example.org/x"}, 5, "link: must be an http(s) URL, got « ftp://example.org/x »"),
        ({"link": "www.example.org"}, 5, "link: must be an http(s) URL, got « www.example.org »"),
        ({"room": "B12"}, 5, f"room: unknown field (known: {KNOWN})"),
        # the storage's limits, checked at import rather than failing halfway through storing the file
        ({"link": "https://x.fr/" + "a" * 488}, 5, "link: at most 500 characters, got 501"),
        ({"place": "p" * 301}, 5, "place: at most 300 characters, got 301"),
    ],
)  # fmt: skip
def test_yaml_field_errors(tmp_path: Path, fields: dict[str, str], line: int, message: str) -> None:
    assert problems_of(tmp_path, "events:\n" + entry(**fields)) == [f"{line}: {ENTRY}: {message}"]


def test_yaml_uid_errors(tmp_path: Path) -> None:
    text = "events:\n" + entry("a-2027") + entry('"two words"') + entry("a-2027") + "  - title: Sans uid\n"
    text += "    start: 2027-06-30 10:00\n"
    assert problems_of(tmp_path, text) == [
        "5: events[2]: uid: must not contain spaces, got « two words »",
        "8: events[3] (uid a-2027): uid: duplicate uid « a-2027 » (also at line 2)",
        "11: events[4]: uid: missing field (a stable identifier, e.g. rencontre-2019)",
    ]


def test_yaml_uid_longer_than_the_storage_keeps_is_refused(tmp_path: Path) -> None:
    uid = "u" * 201  # the storage keeps 200 characters; the importer used to accept 255
    assert problems_of(tmp_path, "events:\n" + entry(uid)) == [
        "2: events[1]: uid: at most 200 characters, got 201"
    ]


def test_yaml_missing_fields_are_reported_at_the_entry(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "events:\n  - uid: vide-2027\n    place: Lyon\n") == [
        "2: events[1] (uid vide-2027): title: missing field",
        "2: events[1] (uid vide-2027): start: missing field (Europe/Paris time, e.g. 2026-03-29 14:30, "
        "29/03/2026 14h30 or 29/03/2026 14:30)",
    ]


def test_yaml_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    text = "events:\n" + entry("a-2027", audience="public") + entry("b-2027", title='""', start="hier")
    assert [p.split(":")[0] for p in problems_of(tmp_path, text)] == ["5", "7", "8"]


def test_yaml_repeated_field(tmp_path: Path) -> None:
    text = "events:\n" + entry() + "    title: Encore\n"
    assert problems_of(tmp_path, text) == [
        "5: events[1] (uid rencontre-2027): title: repeated field (first at line 3)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1: the file is empty (expected « events: » and a list)"),
        ("events: [\n", "2: not valid YAML: expected the node content"),
        ("- uid: a\n", "1: expected a mapping with the key « events: »"),
        ("calendar: []\n", "1: calendar: unknown or repeated field (expected only « events: »)"),
        ("events: aucun\n", "1: events: expected a list (lines starting with '- '), or [] for none"),
        ("events:\n  - juste un texte\n", "2: events[1]: expected a mapping of fields (uid: …, title: …"),
    ],
)  # fmt: skip
def test_yaml_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems


def test_yaml_without_events_key(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "{}\n") == ["1: events: missing field"]


def test_empty_event_list_is_fine(tmp_path: Path) -> None:
    assert load_events_file(write(tmp_path, "events.yaml", "events: []\n")) == []


def test_unknown_or_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "x", "events.json") == [
        "1: unknown kind of file: expected .yaml, .yml or .ics"
    ]
    with pytest.raises(EventImportError, match="cannot read the file"):
        load_events_file(tmp_path / "absent.yaml")


# --- import: iCalendar ----------------------------------------------------------------------------------


def ics(*events: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//FR"]
    for body in events:
        lines += ["BEGIN:VEVENT", *body.strip().splitlines(), "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


GOOD_ICS = ics(
    """
UID:atelier@example.org
SUMMARY:Atelier catalyse\\, Lille
DTSTART;TZID=Europe/Paris:20260312T143000
DTEND;TZID=Europe/Paris:20260312T160000
LOCATION:Maison des associations
URL:https://example.org/atelier
DESCRIPTION:Une description assez longue pour être repliée sur plusieurs li
 gnes par l'exportateur\\nSeconde ligne.
CLASS:PRIVATE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Rappel
TRIGGER:-PT1H
END:VALARM
""",
    """
UID:utc@example.org
SUMMARY:En UTC
DTSTART:20261025T013000Z
DURATION:PT1H30M
STATUS:CANCELLED
""",
    """
UID:flottant@example.org
SUMMARY:Heure flottante
DTSTART:20260329T023000
X-CATABOT-AUDIENCE:members
""",
    """
UID:journee@example.org
SUMMARY:Journée
DTSTART;VALUE=DATE:20260626
DTEND;VALUE=DATE:20260628
""",
    """
UID:jour@example.org
SUMMARY:Un jour
DTSTART;VALUE=DATE:20261025
""",
)


def test_ics_happy_path(tmp_path: Path) -> None:
    events = load_events_file(write(tmp_path, "agenda.ics", GOOD_ICS))
    assert events[0] == ImportedEvent(
        uid="atelier@example.org",
        title="Atelier catalyse, Lille",
        starts_at=utc(2026, 3, 12, 13, 30),
        ends_at=utc(2026, 3, 12, 15, 0),
        place="Maison des associations",
        link="https://example.org/atelier",
        description="Une description assez longue pour être repliée sur plusieurs lignes par l'exportateur\n"
        "Seconde ligne.",
        audience="members",
    )
    assert (events[1].starts_at, events[1].ends_at) == (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 3, 0))
    assert (events[1].status, events[1].audience) == ("cancelled", "all")
    assert events[2].starts_at == utc(2026, 3, 29, 1, 0)  # floating 02:30 Paris does not exist: 03:00 CEST
    assert (events[2].audience, events[2].ends_at) == ("members", None)
    assert (events[3].starts_at, events[3].ends_at, events[3].all_day) == (
        utc(2026, 6, 26, 7, 0),
        utc(2026, 6, 27, 16, 0),  # DTEND is exclusive: the last day is the 27th
        True,
    )
    assert (events[4].starts_at, events[4].ends_at) == (utc(2026, 10, 25, 8, 0), utc(2026, 10, 25, 17, 0))


def test_ics_reimport_gives_identical_events(tmp_path: Path) -> None:
    path = write(tmp_path, "agenda.ics", GOOD_ICS)
    assert load_events_file(path) == load_events_file(path)


BAD_ICS = ics(
    """
UID:a@x
SUMMARY:Correct
DTSTART:20270101T100000Z
""",
    """
UID:a@x
SUMMARY:
DTSTART;TZID=Europe/Paris:20270231T100000
URL:mailto:someone@example.org
""",
    """
SUMMARY:Sans UID
DTSTART;TZID=Mars/Olympus:20270301T100000
""",
    """
UID:c@x
DTSTART:20270301T100000Z
DTEND:20270301T090000Z
""",
    """
UID:d@x
SUMMARY:Répété
DTSTART:20270301T100000Z
RRULE:FREQ=WEEKLY
DTEND;VALUE=DATE:20270302
""",
    """
UID:e@x
SUMMARY:Sans début
X-CATABOT-AUDIENCE:tous
""",
    """
UID:f@x
SUMMARY:Journée à l'envers
DTSTART;VALUE=DATE:20270302
DTEND;VALUE=DATE:20270302
""",
    """
UID:g@x
SUMMARY:Les deux
DTSTART:20270301T100000Z
DTEND:20270301T110000Z
DURATION:PT1H
""",
)


def test_ics_title_of_invisible_characters_only_is_refused(tmp_path: Path) -> None:
    body = "UID:z@x\nSUMMARY:\u200b\u200b\u200d\nDTSTART:20270301T100000Z"
    assert problems_of(tmp_path, ics(body), "agenda.ics") == [
        "6: VEVENT[1] (UID z@x): SUMMARY: must be a non-empty text"
    ]


def test_ics_every_error_names_the_vevent_the_property_and_its_line(tmp_path: Path) -> None:
    lines = BAD_ICS.split("\r\n")

    def at(text: str, start: int = 0) -> int:
        return lines.index(text, start) + 1

    second = at("BEGIN:VEVENT", at("BEGIN:VEVENT"))
    assert problems_of(tmp_path, BAD_ICS, "agenda.ics") == [
        f"{second + 1}: VEVENT[2] (UID a@x): UID: duplicate UID « a@x » (also in VEVENT[1])",
        f"{second + 2}: VEVENT[2] (UID a@x): SUMMARY: must be a non-empty text",
        f"{second + 3}: VEVENT[2] (UID a@x): DTSTART: not a date: Wrong datetime format: 20270231T100000",
        f"{second + 4}: VEVENT[2] (UID a@x): URL: must be an http(s) URL, got « mailto:someone@example.org »",
        f"{second + 6}: VEVENT[3]: UID: missing (a stable identifier of the event)",
        f"{second + 8}: VEVENT[3]: DTSTART: unknown time zone « Mars/Olympus » (add its VTIMEZONE, or write "
        "the time in UTC)",
        f"{at('UID:c@x') - 1}: VEVENT[4] (UID c@x): SUMMARY: missing (the title of the event)",
        f"{at('DTEND:20270301T090000Z')}: VEVENT[4] (UID c@x): DTEND: must be after DTSTART "
        "(2027-03-01 09:00 is not after 2027-03-01 10:00 UTC)",
        # RRULE is supported since issue 13 (see test_bot_events_import.py): a recurring VEVENT is checked
        # like any other
        f"{at('DTEND;VALUE=DATE:20270302')}: VEVENT[5] (UID d@x): DTEND: is a date while DTSTART has a time: "
        "write both alike",
        f"{at('UID:e@x') - 1}: VEVENT[6] (UID e@x): DTSTART: missing (when the event starts)",
        f"{at('X-CATABOT-AUDIENCE:tous')}: VEVENT[6] (UID e@x): X-CATABOT-AUDIENCE: must be all or members, "
        "got « tous »",
        f"{at('DTEND;VALUE=DATE:20270302', at('UID:f@x'))}: VEVENT[7] (UID f@x): DTEND: must be after "
        "DTSTART (the day after the last one), got 2027-03-02 for 2027-03-02",
        f"{at('DURATION:PT1H')}: VEVENT[8] (UID g@x): DURATION: give DTEND or DURATION, not both",
    ]


def test_ics_title_too_long(tmp_path: Path) -> None:
    text = ics(f"UID:long@x\nSUMMARY:{'x' * 201}\nDTSTART:20270101T100000Z")
    assert problems_of(tmp_path, text, "agenda.ics") == [
        "6: VEVENT[1] (UID long@x): SUMMARY: at most 200 characters, got 201"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not a calendar at all\r\n", "1: not a valid iCalendar file:"),
        ("", "1: not a valid iCalendar file:"),
        (
            "BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
            "1: not an iCalendar file: it must start with BEGIN:VCALENDAR",
        ),
    ],
)
def test_ics_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(tmp_path, text, "agenda.ics")
    assert len(problems) == 1 and problems[0].startswith(expected)


# --- export to .ics --------------------------------------------------------------------------------------


def parse_back(data: bytes) -> tuple[Calendar, Component]:
    calendar = Calendar.from_ical(data)
    assert isinstance(calendar, Calendar)
    (vevent,) = calendar.walk("VEVENT")
    return calendar, vevent


def test_ics_export_round_trips_with_icalendar() -> None:
    event = FakeEvent(
        42,
        paris(2026, 3, 12, 14, 30),
        paris(2026, 3, 12, 16, 0),
        title="Atelier : catalyse, alliances; et « territoires »",
        place="Maison des associations, Lille",
        link="https://example.org/atelier",
        description="Ligne 1\nLigne 2, avec virgule",
        revision=3,
    )
    data = event_to_ics(event)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    calendar, vevent = parse_back(data)
    assert str(calendar["PRODID"]) == "-//catabot//FR"
    assert [c.name for c in calendar.walk("VTIMEZONE")] == ["VTIMEZONE"]
    assert str(vevent["UID"]) == "catabot-event-42@catabot"
    assert str(vevent["SUMMARY"]) == event.title
    assert str(vevent["LOCATION"]) == event.place
    assert str(vevent["URL"]) == event.link
    assert str(vevent["DESCRIPTION"]) == event.description
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent.decoded("SEQUENCE") == 3
    start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
    assert start.tzinfo is not None and str(start.tzinfo) == "Europe/Paris"
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (event.starts_at, event.ends_at)
    assert b"DTSTART;TZID=Europe/Paris:20260312T143000" in data
    assert vevent.decoded("DTSTAMP") == event.updated_at
    (alarm,) = vevent.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and str(alarm["DESCRIPTION"]) == event.title
    assert alarm.decoded("TRIGGER") == -timedelta(hours=2)
    assert b"TRIGGER:-PT2H" in data
    assert event_to_ics(event) == data  # deterministic


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (paris(2026, 10, 24, 20, 0), paris(2026, 10, 25, 10, 0)),  # across the October change
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),  # 02:30 CEST → the second 02:30 (CET)
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 45)),  # within the second occurrence
        (paris(2026, 3, 28, 23, 0), paris(2026, 3, 29, 3, 0)),  # across the March change
        (paris(2026, 3, 29, 2, 30), paris(2026, 3, 29, 4, 0)),  # a time in the gap: moved to 03:00 CEST
    ],
)
def test_ics_export_round_trips_across_summer_time(starts_at: datetime, ends_at: datetime) -> None:
    event = FakeEvent(7, starts_at, ends_at, uid="rencontre-2026")
    _, vevent = parse_back(event_to_ics(event))
    assert str(vevent["UID"]) == "rencontre-2026"
    start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
    assert start.astimezone(UTC) == starts_at
    assert end.astimezone(UTC) == ends_at


def test_ics_export_writes_the_second_occurrence_in_utc() -> None:
    data = event_to_ics(FakeEvent(7, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)))
    assert b"DTSTART;TZID=Europe/Paris:20261025T023000" in data  # the first 02:30: TZID is unambiguous
    assert b"DTEND:20261025T013000Z" in data  # the second 02:30 would read back as the first one


def test_ics_export_cancelled_open_ended_without_alarm() -> None:
    cancelled = event_to_ics(FakeEvent(3, START, status="cancelled", revision=2))
    _, vevent = parse_back(cancelled)
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert "DTEND" not in vevent and "LOCATION" not in vevent and "URL" not in vevent
    assert vevent.walk("VALARM") == []
    quiet = event_to_ics(FakeEvent(3, START), alarm_before=None, prodid="-//test//EN")
    assert b"BEGIN:VALARM" not in quiet and b"PRODID:-//test//EN" in quiet
    stamped = event_to_ics(FakeEvent(3, START), dtstamp=utc(2026, 5, 1, 12, 0))
    assert b"DTSTAMP:20260501T120000Z" in stamped
    assert b"TRIGGER:-P1D" in event_to_ics(FakeEvent(3, START), alarm_before=timedelta(days=1))


def test_exported_ics_imports_back_to_the_same_event(tmp_path: Path) -> None:
    event = FakeEvent(
        9,
        paris(2026, 10, 25, 2, 30),
        utc(2026, 10, 25, 1, 45),
        uid="aller-retour",
        place="Lyon",
        link="https://x.fr",
        audience="members",
    )
    path = tmp_path / "event.ics"
    path.write_bytes(event_to_ics(event))
    (imported,) = load_events_file(path)
    assert imported == ImportedEvent(
        uid="aller-retour",
        title=event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        place="Lyon",
        link="https://x.fr",
        description=None,
        audience="members",
    )


def test_the_storage_event_fits_by_duck_typing() -> None:
    event = Event(
        id=5,
        uid=None,
        title="Rencontre",
        starts_at=START,
        ends_at=START + H2,
        place=None,
        link=None,
        description=None,
        audience=Audience.ALL,
        status=EventStatus.SCHEDULED,
        revision=1,
        created_by=None,
        created_at=utc(2026, 1, 1),
        updated_at=utc(2026, 1, 2),
    )
    assert due_reminders([event], {5: [1]}, DEFAULT_OFFSETS, START - H2, set()).send == [
        Reminder(5, 1, H2, "2h@r1")
    ]
    _, vevent = parse_back(event_to_ics(event))
    assert str(vevent["UID"]) == "catabot-event-5@catabot"


def test_yaml_empty_title_value(tmp_path: Path) -> None:
    text = "events:\n  - uid: vide-2027\n    title:\n    start: 2027-06-30 10:00\n"
    assert problems_of(tmp_path, text) == ["3: events[1] (uid vide-2027): title: must be a non-empty text"]
