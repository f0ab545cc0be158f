"""Time for events: Europe/Paris wall-clock times in, aware UTC datetimes stored, French or English out.

Rules used everywhere in `bot.events`:

- instants are aware datetimes; they are stored and compared in UTC (two aware datetimes sharing the *same*
  tzinfo compare by wall-clock time, ignoring `fold`, so comparing Paris times directly is a trap);
- what a coordinator types is a naive Europe/Paris wall-clock time, turned into UTC by `paris_to_utc`:
  an ambiguous time (the repeated hour of the last Sunday of October) is its **first** occurrence
  (summer time, fold=0) and a time that does not exist (the skipped hour of the last Sunday of March,
  e.g. 02:30) is moved **forward to the next valid time**, 03:00 summer time (01:00 UTC);
- day and month names are written by this module, never by the system locale.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.clock import PARIS

FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

LOCAL_FORMATS_HELP = "2026-03-29 14:30, 29/03/2026 14h30 or 29/03/2026 14:30"

# Years an event may have: the network's events are recent or coming; outside, a typing mistake (and
# year 1 or 9999 would overflow when turned into UTC).
YEARS = range(1970, 2101)
# ASCII digits only: `\d` would also take other scripts' digits (« ١٢ »).
_ISO = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})")
_FRENCH = re.compile(r"(?P<day>[0-9]{1,2})/(?P<month>[0-9]{1,2})/(?P<year>[0-9]{4})")
_TIME = re.compile(r"(?P<hour>[0-9]{1,2})(?:\s*h\s*(?P<hmin>[0-9]{2})?|:(?P<min>[0-9]{2}))", re.IGNORECASE)
_DATE = rf"(?:{_ISO.pattern}|{_FRENCH.pattern.replace('?P<', '?P<f')})"  # French groups: fday, fmonth, fyear
_LOCAL = re.compile(rf"\s*{_DATE}(?:\s+(?:à\s+)?|T)(?:{_TIME.pattern})\s*", re.IGNORECASE)
_DAY = re.compile(rf"\s*{_DATE}\s*")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {value!r}")


def to_utc(aware: datetime) -> datetime:
    """`aware` as a UTC datetime (ValueError for a naive datetime)."""
    _require_aware(aware, "the datetime")
    return aware.astimezone(UTC)


def _offset_at(instant: datetime) -> timedelta:
    offset = instant.astimezone(PARIS).utcoffset()
    assert offset is not None  # PARIS always has an offset
    return offset


def paris_to_utc(naive_local: datetime) -> datetime:
    """The UTC instant of a naive Europe/Paris wall-clock time.

    - Ambiguous time (the hour repeated when summer time ends, e.g. 25 October 2026 02:30): the first
      occurrence, still in summer time (02:30 CEST = 00:30 UTC), whatever `fold` says.
    - Nonexistent time (the hour skipped when summer time starts, e.g. 29 March 2026 02:30): moved forward to
      the next valid time, i.e. the instant of the change, 03:00 CEST = 01:00 UTC. Every time in the gap
      gives that same instant.
    """
    if naive_local.tzinfo is not None:
        raise ValueError(f"expected a naive Europe/Paris wall-clock time, got {naive_local!r}")
    wall = naive_local.replace(fold=0)
    first = wall.replace(tzinfo=PARIS).astimezone(UTC)  # fold=0: the offset in force before any change
    if first.astimezone(PARIS).replace(tzinfo=None) == wall:
        return first
    # In the gap: the change happened between `wall - offset after` and `wall - offset before` (UTC).
    late = wall.replace(tzinfo=PARIS, fold=1).astimezone(UTC)
    low, high = min(first, late), max(first, late)
    after = _offset_at(high)
    # Binary search, to the microsecond, of the first instant that already has the new offset.
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if _offset_at(middle) == after:
            high = middle
        else:
            low = middle
    return high


def utc_to_paris(aware: datetime) -> datetime:
    """`aware` (UTC or any zone) as an aware Europe/Paris datetime (fold set on the repeated hour)."""
    _require_aware(aware, "utc_to_paris: the datetime")
    return aware.astimezone(PARIS)


def _match_date(match: re.Match[str]) -> tuple[int, int, int]:
    if match.group("year") is not None:
        return int(match.group("year")), int(match.group("month")), int(match.group("day"))
    return int(match.group("fyear")), int(match.group("fmonth")), int(match.group("fday"))


def _checked_date(text: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    if year not in YEARS:
        raise ValueError(f"not a date « {text} »: the year must be between {YEARS[0]} and {YEARS[-1]}")
    if not 1 <= month <= 12:
        raise ValueError(f"not a date « {text} »: there is no month {month}")
    if hour > 23 or minute > 59:
        raise ValueError(f"not a date « {text} »: {hour}:{minute:02d} is not a time of day")
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        raise ValueError(
            f"not a date « {text} »: {ENGLISH_MONTHS[month - 1]} {year} has no day {day}"
        ) from None


def parse_local(text: str) -> datetime:
    """A naive Europe/Paris wall-clock datetime from « 2026-03-29 14:30 », « 29/03/2026 14h30 » or
    « 29/03/2026 14:30 » (also « 29/03/2026 14h », « 29/03/2026 à 14 h 30 », « 2026-03-29T14:30 »).

    ValueError, with a message naming the text and what is wrong, for anything else, and for a year outside
    `YEARS` (1970-2100). Convert the result with `paris_to_utc`.
    """
    match = _LOCAL.fullmatch(text)
    if match is None:
        if _DAY.fullmatch(text):
            raise ValueError(
                f"not a date « {text} »: the time is missing (expected e.g. {LOCAL_FORMATS_HELP})"
            )
        raise ValueError(f"not a date « {text} » (expected e.g. {LOCAL_FORMATS_HELP})")
    year, month, day = _match_date(match)
    minute = match.group("hmin") or match.group("min") or "0"
    return _checked_date(text, year, month, day, int(match.group("hour")), int(minute))


def parse_day(text: str) -> datetime | None:
    """A date without a time (« 2026-03-29 » or « 29/03/2026 ») as a naive midnight, or None if `text` is
    not written that way; ValueError for an impossible date such as « 31/02/2027 »."""
    match = _DAY.fullmatch(text)
    if match is None:
        return None
    return _checked_date(text, *_match_date(match))


def _language(language: str) -> str:
    short = language.lower().replace("_", "-").split("-")[0]
    if short not in ("fr", "en"):
        raise ValueError(f"unsupported language {language!r} (supported: fr, en)")
    return short


def _day_text(moment: datetime, language: str) -> str:
    if language == "fr":
        day = "1er" if moment.day == 1 else str(moment.day)
        return f"{FRENCH_DAYS[moment.weekday()]} {day} {FRENCH_MONTHS[moment.month - 1]} {moment.year}"
    return f"{ENGLISH_DAYS[moment.weekday()]} {moment.day} {ENGLISH_MONTHS[moment.month - 1]} {moment.year}"


def _time_text(moment: datetime, language: str) -> str:
    if language == "fr":
        return f"{moment.hour} h {moment.minute:02d}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def format_when(
    starts_at: datetime, ends_at: datetime | None = None, language: str = "fr", *, all_day: bool = False
) -> str:
    """When an event takes place, in Europe/Paris time, without relying on the system locale.

    fr: « jeudi 12 mars 2026, 14 h 30 – 16 h 00 » (« dimanche 1er mars 2026, 9 h 00 » without an end;
    « jeudi 12 mars 2026, 14 h 30 – vendredi 13 mars 2026, 12 h 00 » over several days).
    en: "Thursday 12 March 2026, 2:30 pm – 4:00 pm".
    `all_day` (an imported all-day event, whose hours are a convention): « jeudi 12 mars 2026 (toute la
    journée) », « … – vendredi 13 mars 2026 (toute la journée) », "Thursday 12 March 2026 (all day)".
    """
    lang = _language(language)
    start = utc_to_paris(starts_at)
    if all_day:
        last = utc_to_paris(ends_at).date() if ends_at is not None else start.date()
        days = _day_text(start, lang)
        if last != start.date():
            days += f" – {_day_text(datetime(last.year, last.month, last.day), lang)}"
        return f"{days} ({'toute la journée' if lang == 'fr' else 'all day'})"
    text = f"{_day_text(start, lang)}, {_time_text(start, lang)}"
    if ends_at is None:
        return text
    end = utc_to_paris(ends_at)
    if end.date() == start.date():
        return f"{text} – {_time_text(end, lang)}"
    return f"{text} – {_day_text(end, lang)}, {_time_text(end, lang)}"
