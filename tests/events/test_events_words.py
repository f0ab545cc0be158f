"""French dates typed by coordinators, « demain à 14 h » in reminders, calendar questions, and which reminder
a late subscriber gets (issue 13): the domain functions behind the chat tests."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.events.intent import asked_period, asks_for_calendar
from bot.events.planning import DEFAULT_OFFSETS, Reminder, due_reminders
from bot.events.records import Event
from bot.events.when import relative, understand
from tests.events_kit import paris

NOW = paris(2027, 3, 10, 11, 0)  # Wednesday 10 March 2027, 11:00 Paris


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("demain 9h", paris(2027, 3, 11, 9)),
        ("jeudi 14h", paris(2027, 3, 11, 14)),
        ("mercredi 10h", paris(2027, 3, 17, 10)),  # today's 10:00 is past: next week
        ("10/12 14h", paris(2027, 12, 10, 14)),
        ("le 5 avril à 18 h 30", paris(2027, 4, 5, 18, 30)),
        ("12/03/2027 14h30", paris(2027, 3, 12, 14, 30)),
    ],
)
def test_french_dates_are_understood(typed: str, expected: dt.datetime) -> None:
    assert understand(typed, NOW).at == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("demain", "date_time_missing"),
        ("hier 9h", "date_in_past"),
        ("31/02 10h", "date_not_understood"),
        ("25h", "date_not_understood"),
        ("01/01/0001 00h00", "date_out_of_range"),
        ("31/12/9999 23h59", "date_out_of_range"),
        ("x" * 4000 + " 9h", "date_not_understood"),
    ],
)
def test_dates_not_understood_say_why(typed: str, problem: str) -> None:
    assert understand(typed, NOW) == type(understand(typed, NOW))(None, problem)


@pytest.mark.parametrize(
    ("later", "fr", "en"),
    [
        (dt.timedelta(minutes=45), "dans 45 minutes", "in 45 minutes"),
        (dt.timedelta(hours=2), "dans 2 heures", "in 2 hours"),
        (dt.timedelta(hours=5), "aujourd'hui à 16 h", "today at 4 pm"),
        (dt.timedelta(days=1, hours=3, minutes=30), "demain à 14 h 30", "tomorrow at 2:30 pm"),
        (dt.timedelta(days=2), "vendredi à 11 h", "Friday at 11 am"),
        (dt.timedelta(days=9), "le vendredi 19 mars 2027 à 11 h", "on Friday 19 March 2027 at 11 am"),
    ],
)
def test_reminders_say_when_relative_to_now_in_paris_time(later: dt.timedelta, fr: str, en: str) -> None:
    assert relative(NOW + later, NOW, "fr") == fr
    assert relative(NOW + later, NOW, "en") == en


def test_an_all_day_event_is_tomorrow_all_day() -> None:
    assert relative(paris(2027, 3, 11, 9), NOW, all_day=True) == "demain (toute la journée)"


@pytest.mark.parametrize(
    ("question", "calendar"),
    [
        ("C'est quand le prochain événement ?", True),
        ("prochaine Rencontre ?", True),
        ("agenda", True),
        ("Quels webinaires à venir ?", True),
        ("When is the next meeting?", True),
        ("Quand a eu lieu la dernière Rencontre ?", False),
        ("Quand a lieu la Rencontre annuelle des pionniers ?", False),
        ("C'est quoi un catalyseur ?", False),
        ("quand", False),
    ],
)
def test_calendar_questions_are_told_apart(question: str, calendar: bool) -> None:
    assert asks_for_calendar(question) is calendar


def _event(starts_at: dt.datetime) -> Event:
    from bot.events.records import Audience, EventStatus

    return Event(
        1, None, "Rencontre", starts_at, None, None, None, None, Audience.ALL, EventStatus.SCHEDULED, 1, None,
        NOW, NOW,
    )  # fmt: skip


def test_a_late_reminder_gives_way_to_a_closer_one_due_soon() -> None:
    event = _event(NOW + dt.timedelta(hours=2, minutes=5))
    plan = due_reminders([event], {1: [7]}, DEFAULT_OFFSETS, NOW, set())
    assert plan.send == [] and [r.key for r in plan.skip] == ["7d@r1", "1d@r1"]
    later = due_reminders([event], {1: [7]}, DEFAULT_OFFSETS, NOW + dt.timedelta(minutes=5), set())
    assert later.send == [Reminder(1, 7, dt.timedelta(hours=2), "2h@r1")]


def test_a_reminder_on_time_is_sent_even_with_a_closer_one_soon() -> None:
    event = _event(NOW + dt.timedelta(days=1) - dt.timedelta(minutes=1))  # the 1-day one is 1 minute late
    plan = due_reminders(
        [event], {1: [7]}, (dt.timedelta(days=1), dt.timedelta(hours=23, minutes=50)), NOW, set()
    )
    assert [r.key for r in plan.send] == ["1d@r1"]


@pytest.mark.parametrize(
    ("typed", "options", "expected", "all_day"),
    [
        ("16h", {"day_of": paris(2027, 3, 11, 14)}, paris(2027, 3, 11, 16), False),
        ("après-demain midi", {}, paris(2027, 3, 12, 12), False),
        ("ce soir 18h", {}, paris(2027, 3, 10, 18), False),
        ("demain matin", {}, paris(2027, 3, 11, 9), False),
        ("jeudi", {"all_day": True}, paris(2027, 3, 11, 0), True),
        ("12/03/2027", {"all_day": True}, paris(2027, 3, 12, 0), True),
        ("jeudi toute la journée", {"all_day": True}, paris(2027, 3, 11, 0), True),
    ],
)
def test_times_alone_day_words_and_all_day_dates(
    typed: str, options: dict[str, object], expected: dt.datetime, all_day: bool
) -> None:
    understood = understand(typed, NOW, **options)  # type: ignore[arg-type]
    assert (understood.at, understood.all_day) == (expected, all_day)


@pytest.mark.parametrize(
    ("question", "first", "last"),
    [
        ("Quels sont les événements en mars ?", dt.date(2027, 3, 1), dt.date(2027, 3, 31)),
        ("Des ateliers en février ?", dt.date(2028, 2, 1), dt.date(2028, 2, 29)),  # past this year: next
        ("Quels webinaires la semaine prochaine ?", dt.date(2027, 3, 15), dt.date(2027, 3, 21)),
        ("Any events in December?", dt.date(2027, 12, 1), dt.date(2027, 12, 31)),
    ],
)
def test_questions_about_a_period_are_calendar_questions(
    question: str, first: dt.date, last: dt.date
) -> None:
    period = asked_period(question, dt.date(2027, 3, 10))
    assert asks_for_calendar(question)
    assert period is not None and (period.first, period.last) == (first, last)


def test_a_month_without_event_words_is_not_a_calendar_question() -> None:
    assert not asks_for_calendar("Quelle subvention en mars pour un tiers-lieu ?")
