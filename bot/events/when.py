"""Dates as people write and read them: French dates typed by a coordinator, « demain à 14 h » in reminders.

`understand(text, now)` reads « demain 9h », « jeudi 14h », « 10/12 14h », « le 5 avril à 18 h 30 » or the
strict formats of `clock.parse_local`, with dateparser (https://dateparser.readthedocs.io) for the French
words; `relative(starts_at, now, language)` says when an event is, from now, in Europe/Paris time. Every text
comes from the message catalogue (keys `when_*`, `date_*`); plurals follow Babel's rules for the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import dateparser
from babel import Locale

from bot.events.clock import FRENCH_DAYS, YEARS, format_when, paris_to_utc, parse_local, to_utc, utc_to_paris
from bot.messages import text

_TIME = re.compile(r"\b(?P<hour>\d{1,2})\s*(?:h|:)\s*(?P<minute>\d{2})?(?!\d)", re.IGNORECASE)
_WEEKDAY = re.compile(rf"^(?:le\s+)?(?P<day>{'|'.join(FRENCH_DAYS)})(?:\s+prochain)?$", re.IGNORECASE)
_SETTINGS = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY", "REQUIRE_PARTS": ["day", "month"]}


@dataclass(frozen=True)
class Understood:
    """A typed date: `at` (aware UTC) when understood, else `problem`, a catalogue key (`date_*`)."""

    at: datetime | None
    problem: str | None = None


def understand(typed: str, now: datetime) -> Understood:
    """The instant meant by `typed` (a Europe/Paris wall-clock time), relative to `now` (aware).

    Problems: "date_not_understood", "date_time_missing" (« demain » alone), "date_in_past",
    "date_out_of_range" (a year outside `clock.YEARS`, 1970-2100).
    """
    value = " ".join(typed.split())
    local: datetime | str
    try:
        local = parse_local(value)
    except ValueError:
        try:
            local = _natural(value, utc_to_paris(now).replace(tzinfo=None))
        except (ValueError, OverflowError):  # dateparser on a date past year 9999
            local = "date_not_understood"
    if isinstance(local, str):
        return Understood(None, local)
    if local.year not in YEARS:
        return Understood(None, "date_out_of_range")
    at = paris_to_utc(local)
    return Understood(at) if at > to_utc(now) else Understood(None, "date_in_past")


def _natural(value: str, base: datetime) -> datetime | str:
    match = _TIME.search(value)
    if match is None:
        return "date_time_missing"
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if hour > 23 or minute > 59:
        return "date_not_understood"
    day_words = (value[: match.start()] + " " + value[match.end() :]).replace(" à ", " ").strip(" ,à")
    weekday = _WEEKDAY.match(day_words)
    if weekday is not None:
        ahead = (FRENCH_DAYS.index(weekday["day"].lower()) - base.weekday()) % 7
        day = base + timedelta(days=ahead)
        if ahead == 0 and (hour, minute) <= (base.hour, base.minute):
            day += timedelta(days=7)
    else:
        relative = re.fullmatch(r"(aujourd'hui|ce soir|demain|après-demain)", day_words, re.IGNORECASE)
        settings = dict(_SETTINGS, RELATIVE_BASE=base)
        if relative is not None:
            settings.pop("REQUIRE_PARTS")
        parsed = dateparser.parse(day_words, languages=["fr", "en"], settings=settings)
        if parsed is None:
            return "date_not_understood"
        day = parsed
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0, tzinfo=None)


def _plural(key: str, count: int, language: str) -> str:
    form = Locale.parse(language).plural_form(count)
    return text(f"{key}_{'one' if form == 'one' else 'other'}", language, count=count)


def _clock_time(moment: datetime, language: str) -> str:
    if language == "fr":
        return f"{moment.hour} h" if moment.minute == 0 else f"{moment.hour} h {moment.minute:02d}"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def relative(starts_at: datetime, now: datetime, language: str = "fr", *, all_day: bool = False) -> str:
    """When the event is, seen from `now`, in Paris time: « dans 45 minutes », « dans 2 heures »,
    « aujourd'hui à 18 h », « demain à 14 h 30 », « jeudi à 9 h », « le jeudi 12 mars 2027 à 9 h »;
    an all-day event: « demain (toute la journée) ». Language "fr" or "en"."""
    start, today = utc_to_paris(starts_at), utc_to_paris(now)
    days = (start.date() - today.date()).days
    left = to_utc(starts_at) - to_utc(now)
    if not all_day and left < timedelta(hours=3) and (days == 0 or left < timedelta(hours=1)):
        minutes = max(1, round(left.total_seconds() / 60))
        if minutes < 60:
            return _plural("when_in_minutes", minutes, language)
        return _plural("when_in_hours", round(minutes / 60), language)
    if days == 0:
        day = text("when_today", language)
    elif days == 1:
        day = text("when_tomorrow", language)
    elif days < 7:
        day = text("when_weekday", language, day=format_when(starts_at, None, language).split(" ")[0])
    else:
        date_text = format_when(starts_at, None, language, all_day=True).split(" (")[0]
        day = text("when_on", language, day=date_text)
    if all_day:
        return text("when_all_day", language, day=day)
    return text("when_at", language, day=day, time=_clock_time(start, language))
