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

from bot.events.clock import (
    FRENCH_DAYS,
    YEARS,
    format_when,
    paris_to_utc,
    parse_day,
    parse_local,
    to_utc,
    utc_to_paris,
)
from bot.messages import text

_TIME = re.compile(r"\b(?P<hour>\d{1,2})\s*(?:h|:)\s*(?P<minute>\d{2})?(?!\d)", re.IGNORECASE)
_WEEKDAY = re.compile(rf"^(?:le\s+)?(?P<day>{'|'.join(FRENCH_DAYS)})(?:\s+prochain)?$", re.IGNORECASE)
_SETTINGS = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY", "REQUIRE_PARTS": ["day", "month"]}


# Words for a time of day: « midi » is 12 h; « demain matin » alone means 9 h, « ce soir » 18 h.
_HOUR_WORDS = (
    (re.compile(r"\bmidi\b", re.IGNORECASE), "12h"),
    (re.compile(r"\bminuit\b", re.IGNORECASE), "0h"),
)
_PART_OF_DAY = re.compile(r"\b(?:ce\s+)?(?P<part>matin|après-midi|apres-midi|soir)\b", re.IGNORECASE)
_PART_HOURS = {"matin": "9h", "après-midi": "14h", "apres-midi": "14h", "soir": "18h"}
_ALL_DAY = re.compile(r",?\s*\b(?:toute\s+la\s+journée|toute\s+la\s+journee|all\s+day)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Understood:
    """A typed date: `at` (aware UTC) when understood, else `problem`, a catalogue key (`date_*`).

    `all_day` is True for a date without a time when the caller accepts one; `at` is then that day's
    midnight in Paris (as UTC): the caller turns it into the all-day span."""

    at: datetime | None
    problem: str | None = None
    all_day: bool = False


def understand(
    typed: str, now: datetime, *, day_of: datetime | None = None, all_day: bool = False
) -> Understood:
    """The instant meant by `typed` (a Europe/Paris wall-clock time), relative to `now` (aware).

    « midi » is 12 h, « ce soir 18h » today at 18 h, « demain matin » tomorrow at 9 h. With `day_of` (aware),
    a time alone (« 16h ») is that time on `day_of`'s Paris day (an end after a start). With `all_day`, a day
    without a time (« jeudi », « 12/03/2027 », « jeudi toute la journée ») is an all-day date.
    Problems: "date_not_understood", "date_time_missing" (« demain » alone, unless `all_day`),
    "date_in_past", "date_out_of_range" (a year outside `clock.YEARS`, 1970-2100).
    """
    value = " ".join(typed.split())
    whole_day = _ALL_DAY.search(value) is not None
    value = _ALL_DAY.sub("", value).strip()
    if whole_day and all_day and not value and day_of is not None:  # « toute la journée » after a start
        midnight = utc_to_paris(day_of).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        return Understood(paris_to_utc(midnight), all_day=True)
    local: datetime | str
    base = utc_to_paris(now).replace(tzinfo=None)
    try:
        local = parse_local(value)
    except ValueError:
        try:
            local = _natural(value, base, day_of, whole_day or all_day)
        except (ValueError, OverflowError):  # dateparser on a date past year 9999
            local = "date_not_understood"
    if isinstance(local, str):
        if local == "date_time_missing" and (all_day or whole_day):
            return _day_only(value, base, now)
        return Understood(None, local)
    if whole_day and all_day:
        local = local.replace(hour=0, minute=0)
    return _checked(local, now, all_day=whole_day and all_day)


def _checked(local: datetime, now: datetime, *, all_day: bool = False) -> Understood:
    if local.year not in YEARS:
        return Understood(None, "date_out_of_range")
    at = paris_to_utc(local)
    if all_day:  # the day itself may be today
        past = local.date() < utc_to_paris(now).date()
        return Understood(None, "date_in_past") if past else Understood(at, all_day=True)
    return Understood(at) if at > to_utc(now) else Understood(None, "date_in_past")


def _day_only(value: str, base: datetime, now: datetime) -> Understood:
    try:
        day = parse_day(value) or _day(value, base, None)
    except (ValueError, OverflowError):
        return Understood(None, "date_not_understood")
    if isinstance(day, str):
        return Understood(None, day)
    return _checked(day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None), now, all_day=True)


def _natural(value: str, base: datetime, day_of: datetime | None, all_day: bool) -> datetime | str:
    for word, hour_text in _HOUR_WORDS:
        value = word.sub(hour_text, value)
    part = _PART_OF_DAY.search(value)
    if part is not None:
        is_evening = part["part"].lower() == "soir" and part.group(0).lower().startswith("ce")
        rest = (value[: part.start()] + " " + value[part.end() :]).strip()
        if is_evening:
            rest = f"aujourd'hui {rest}"
        value = rest if _TIME.search(rest) else f"{rest} {_PART_HOURS[part['part'].lower()]}"
    match = _TIME.search(value)
    if match is None:
        return "date_time_missing"
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if hour > 23 or minute > 59:
        return "date_not_understood"
    day_words = (value[: match.start()] + " " + value[match.end() :]).replace(" à ", " ").strip(" ,à")
    if not day_words and day_of is not None:  # « 16h » after a start: the start's day
        return utc_to_paris(day_of).replace(hour=hour, minute=minute, second=0, microsecond=0, tzinfo=None)
    day = _day(day_words, base, (hour, minute))
    if isinstance(day, str):
        return day
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0, tzinfo=None)


def _day(day_words: str, base: datetime, time: tuple[int, int] | None) -> datetime | str:
    """The day named by `day_words` (« jeudi », « demain », « 5 avril »); with `time`, a weekday equal to
    today whose time is past means next week."""
    weekday = _WEEKDAY.match(day_words)
    if weekday is not None:
        ahead = (FRENCH_DAYS.index(weekday["day"].lower()) - base.weekday()) % 7
        day = base + timedelta(days=ahead)
        if ahead == 0 and (time is None or time <= (base.hour, base.minute)):
            day += timedelta(days=7)
        return day
    relative = re.fullmatch(
        r"(aujourd'hui|ce soir|demain|après-demain|apres-demain)", day_words, re.IGNORECASE
    )
    settings = dict(_SETTINGS, RELATIVE_BASE=base)
    if relative is not None:
        settings.pop("REQUIRE_PARTS")
    parsed = dateparser.parse(day_words, languages=["fr", "en"], settings=settings)
    return "date_not_understood" if parsed is None else parsed


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
